"""Hand-offs between the teams: who owns what waits, when it is due, reminders and
escalations, each sent once."""
