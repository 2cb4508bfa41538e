"""The WSGI entry for production servers: `gunicorn -w 4 -b 127.0.0.1:8000 'kb.web.wsgi:app'`.

The knowledge base is $KB_ROOT, or the current folder. Run `kb index` first (the app reads
the database and index; it does not build them), and run the scheduler separately
(`kb serve` or the scheduler command), never inside each worker.
"""

from kb.web import create_app

app = create_app()
