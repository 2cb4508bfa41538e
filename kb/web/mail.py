"""The one-click unsubscribe link of the email digests (kb.digest).

GET shows a confirmation page with a button; POST unsubscribes. The POST is exempt from CSRF
checks because the link is signed with the site's secret (itsdangerous) and names one user; a
mail client's RFC 8058 one-click POST (`List-Unsubscribe=One-Click`) lands here too.
"""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request

from kb.digest import Subscriptions, unsubscribe_user
from kb.web.auth import csrf
from kb.web.state import state

bp = Blueprint("mail", __name__)


@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
@csrf.exempt
def unsubscribe(token: str):  # type: ignore[no-untyped-def]
    user_id = unsubscribe_user(current_app.config["SECRET_KEY"], token)
    if user_id is None:
        return render_template("mail/unsubscribe.html", state="bad"), 404
    if request.method == "POST":
        Subscriptions(state().workspace.store).remove(user_id)
        return render_template("mail/unsubscribe.html", state="done")
    return render_template("mail/unsubscribe.html", state="ask")
