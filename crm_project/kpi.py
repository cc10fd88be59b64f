"""The KPI colour rule the funnel and the analytics reports share."""

GREEN, ORANGE, RED = "green", "orange", "red"

# A conversion KPI is good from this percent, and poor below the second.
KPI_GOOD_PERCENT = 20
KPI_POOR_PERCENT = 10


def kpi_colour(percent: float | None) -> str:
    """Green from 20 %, orange from 10 % to below 20 %, red below 10 %.

    None (a rate with nothing to divide by) has no colour: "".
    """
    if percent is None:
        return ""
    if percent >= KPI_GOOD_PERCENT:
        return GREEN
    if percent >= KPI_POOR_PERCENT:
        return ORANGE
    return RED
