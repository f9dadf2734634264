FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    DJANGO_SETTINGS_MODULE=config.settings ACCORD_VAR_DIR=/app/var
WORKDIR /app

COPY requirements/base.txt requirements/base.txt
RUN pip install --upgrade pip && pip install --require-hashes -r requirements/base.txt \
    && mkdir -p /app/var

COPY . .
# Translations: compiled with Babel (pure Python), no GNU gettext in the image.
RUN if ls locale/*/LC_MESSAGES/django.po >/dev/null 2>&1; then pybabel -q compile -d locale -D django; fi
# collectstatic needs settings to import; a build-time key never reaches a container.
RUN DEBUG=false SECRET_KEY=build-only-key-build-only-key-build-only-key-build-only \
    python manage.py collectstatic --noinput

RUN useradd --create-home accord && chown -R accord /app/var
USER accord
EXPOSE 8000
CMD ["gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "5", "--access-logfile", "-"]
