"""One date format per language (settings.FORMAT_MODULE_PATH): a day reads the same on
every page, chart and export of a language: day, short month, year ("23 Nov 2026",
"23 lis 2026", "23 Nov 2026"); with the time on a 24-hour clock. Django's own defaults
mix "11/23/2026", "Nov. 23, 2026" and "23.11.2026"; these override its date formats only
(numbers stay as Django and Babel write them)."""
