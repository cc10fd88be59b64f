// The import page's progress: poll <id>/progress/ while the import is queued or
// running, update the bar and counts, and reload once it ends (for the buttons).
(function () {
  "use strict";
  const box = document.getElementById("import-progress");
  if (!box || !box.dataset.running) {
    return;
  }
  const field = (name) => box.querySelector('[data-field="' + name + '"]');
  const poll = () => {
    fetch(box.dataset.url, { credentials: "same-origin" })
      .then((response) => response.json())
      .then((data) => {
        const bar = field("percent");
        bar.style.width = data.percent + "%";
        bar.setAttribute("aria-valuenow", data.percent);
        bar.textContent = data.percent + "%";
        ["processed", "total", "created", "duplicate_in_file", "duplicate_existing", "bad"]
          .forEach((name) => { field(name).textContent = data[name]; });
        field("status_display").textContent = data.status_display;
        if (data.finished) {
          window.location.reload();
        } else {
          window.setTimeout(poll, 2000);
        }
      })
      .catch(() => window.setTimeout(poll, 5000));
  };
  window.setTimeout(poll, 1500);
})();
