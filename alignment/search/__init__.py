"""One search box for the shared record: leads, campaigns, deals, battlecards and intel."""
