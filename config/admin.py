"""What Accord's model admins share."""

from django.db import models


class HttpsLinks:
    """A link typed without a scheme ("acme.com") is taken as https://, as on Accord's own
    forms (and Django 6's default). For model admins and inlines with a URL field."""

    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
