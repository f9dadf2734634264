"""`makemessages` that also extracts `_lazy("…")`.

Modules that need both forms import `gettext as _` and `gettext_lazy as _lazy`; xgettext only
knows Django's default keywords, so without this the lazy strings (metric labels, chart
titles, filter choices) would never reach the catalogs.
"""

from django.core.management.commands import makemessages


class Command(makemessages.Command):
    xgettext_options = [*makemessages.Command.xgettext_options, "--keyword=_lazy"]
