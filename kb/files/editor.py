"""The staff editor's API in one place, for the web editor and tests: the form (`kb.files.form`),
round-trip YAML edits (`kb.files.roundtrip`) and the conflict-checked save (`kb.files.save`).

- `form_values(text)` turns an entry file into the flat values a form shows;
  `values_from_form(form)` reads a submitted form back.
- `apply(text, values)` updates the front matter, changing only what differs.
- `check(...)` validates with the same checker (and words) as `kb validate`, per form field.
- `save(...)`, `set_status(...)` and `create(...)` write under the write lock, refuse when the
  file changed since it was opened (the form carries its sha256), and write atomically.
"""

from kb.files.form import (
    STATUS_ACTIONS,
    FieldProblem,
    blank_measure,
    blank_risk,
    blank_source,
    check,
    errors,
    form_action,
    form_values,
    join_list,
    preview,
    values_from_form,
)
from kb.files.lock import Busy, write_lock
from kb.files.roundtrip import EditorError, apply, set_status_text, sha256, split_list
from kb.files.save import Outcome, create, new_entry_text, open_entry, save, set_status, summary_of

__all__ = [
    "STATUS_ACTIONS",
    "Busy",
    "EditorError",
    "FieldProblem",
    "Outcome",
    "apply",
    "blank_measure",
    "blank_risk",
    "blank_source",
    "check",
    "create",
    "errors",
    "form_action",
    "form_values",
    "join_list",
    "new_entry_text",
    "open_entry",
    "preview",
    "save",
    "set_status",
    "set_status_text",
    "sha256",
    "split_list",
    "summary_of",
    "values_from_form",
    "write_lock",
]
