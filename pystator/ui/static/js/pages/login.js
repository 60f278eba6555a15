// Sign in: exchange a configured user's password for a bearer token (kept in sessionStorage).

import { api, setToken } from "../api.js";
import { h, field } from "../dom.js";

export class LoginPage {
  constructor({ onSignedIn }) {
    const user = field("User name", h("input", { name: "username", autocomplete: "username", required: true }));
    const pass = field("Password", h("input", { name: "password", type: "password", autocomplete: "current-password", required: true }));
    this.error = h("p", { class: "error", role: "alert" });
    const submit = h("button", { type: "submit", class: "primary" }, "Sign in");
    const form = h("form", { class: "card login", novalidate: true }, user.wrap, pass.wrap, this.error, submit);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      this.error.textContent = "";
      if (!user.input.value || !pass.input.value) {
        this.error.textContent = "Enter your user name and password.";
        (user.input.value ? pass.input : user.input).focus();
        return;
      }
      submit.disabled = true;
      try {
        const token = await api.login(user.input.value, pass.input.value);
        setToken(token.access_token);
        await onSignedIn(user.input.value);
      } catch (err) {
        this.error.textContent =
          err.status === 401 ? "Wrong user name or password." : `Could not sign in: ${err.message}`;
        pass.input.select();
        pass.input.focus();
      } finally {
        submit.disabled = false;
      }
    });
    this.userInput = user.input;
    this.element = h("section", { class: "page narrow" },
      h("h1", {}, "Sign in"),
      h("p", { class: "muted" }, "This server requires a token. Sign in with a user configured in PYSTATOR_USERS."),
      form);
  }

  load() {
    setTimeout(() => this.userInput.focus(), 0);
  }
}
