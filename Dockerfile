# The production image: web (gunicorn), worker and beat all run from it.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MEDIA_ROOT=/app/media \
    CRM_VAR_DIR=/app/var

WORKDIR /app

# Requirements first, so a code change does not reinstall them.
COPY requirements.txt .
RUN pip install -r requirements.txt

# The code stays owned by root and read-only for the app; only media/ and var/ are its.
COPY . .
# collectstatic needs settings to load, not a real key: this one exists only in this
# build step and is never in the image's environment.
RUN SECRET_KEY=build-only-collectstatic DEBUG=false \
        python manage.py collectstatic --noinput --verbosity 0 \
    && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin crm \
    && mkdir -p /app/media /app/var \
    && chown crm:crm /app/media /app/var

USER crm
EXPOSE 8000
CMD ["gunicorn", "crm_project.wsgi:application", "--bind", "0.0.0.0:8000", \
     "--access-logfile", "-", "--timeout", "60"]
