"""Framework-free read models of the site: the catalogue (what a reader may see), charts,
published feed documents and the staff dashboard. Flask lives in kb.web, not here."""
