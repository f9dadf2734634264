"""Pages that create, edit and merge leads by hand; the rules stay in leads.services."""
