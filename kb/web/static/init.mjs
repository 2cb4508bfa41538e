// GOV.UK Frontend's components (menu toggle, skip link focus). The pages work without it.
import { initAll } from "/govuk/govuk-frontend.min.js";

document.body.classList.add("js-enabled");
if ("noModule" in HTMLScriptElement.prototype) {
  document.body.classList.add("govuk-frontend-supported");
  initAll();
}
