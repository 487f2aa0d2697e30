/*
 * The demo store's sign-in, standing in for a shop's own: a visitor picks one of the demo
 * customers, the shop's back office (the demo orders service, which holds the identity secret)
 * signs that customer's id, and the page loads the chat widget with the data-customer-*
 * attributes. Signed out, the widget opens anonymous conversations. The signed identity is kept
 * for the browser tab (sessionStorage), as a shop's session would be; signing in or out reloads
 * the page, so the widget starts again with the new identity (and a new conversation).
 * The shop's address: ?shop=URL on the page's address, else data-shop on this script tag (the
 * service sets it from SWITCHBOARD_DEMO_SHOP_URL),
 * else this host on port 8077 (where scripts/run_demo.sh starts it).
 */
(() => {
  const script = document.currentScript;
  const asked = new URLSearchParams(location.search).get("shop");
  const shop = (asked || script.dataset.shop || `${location.protocol}//${location.hostname}:8077`).replace(/\/+$/, "");
  const key = "larkspur:signed-in";
  const box = document.getElementById("account");
  let signedIn = null;
  try { signedIn = JSON.parse(sessionStorage.getItem(key) || "null"); } catch { signedIn = null; }

  const el = (tag, attrs = {}, ...children) => {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) {
      if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value);
    }
    node.append(...children);
    return node;
  };

  function loadWidget() {
    const tag = el("script", { src: "/widget.js", "data-title": "Larkspur Support", "data-accent": "#2f6f4f" });
    if (signedIn) {
      tag.dataset.customerId = signedIn.id;
      tag.dataset.customerEmail = signedIn.email;
      tag.dataset.customerName = signedIn.name;
      tag.dataset.customerSignature = signedIn.signature;
    }
    document.body.append(tag);
  }

  function showSignedIn() {
    box.replaceChildren(
      el("span", { id: "signed-in-as" }, `Signed in as ${signedIn.name} (${signedIn.email})`),
      el("span", { class: "orders" }, ` · your orders: ${signedIn.orders.join(", ")} `),
      el("button", {
        id: "sign-out",
        type: "button",
        onclick: () => { sessionStorage.removeItem(key); location.reload(); },
      }, "Sign out"),
    );
  }

  async function showSignIn() {
    const status = el("span", { class: "muted", role: "status" });
    box.replaceChildren(status);
    let customers;
    try {
      const response = await fetch(`${shop}/demo/customers`);
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      customers = await response.json();
    } catch {
      status.textContent = "Demo sign-in unavailable (the shop service is not running): chatting anonymously.";
      return;
    }
    const select = el("select", { id: "demo-customer", "aria-label": "Demo customer" },
      ...customers.map((c) => el("option", { value: c.id }, `${c.name} (${c.id})`)));
    const button = el("button", { id: "sign-in", type: "button" }, "Sign in");
    button.addEventListener("click", async () => {
      status.textContent = "";
      try {
        const response = await fetch(`${shop}/demo/sign-in`, {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ customer_id: select.value }),
        });
        const body = await response.json().catch(() => ({}));
        if (!response.ok) throw new Error(body.detail || `HTTP ${response.status}`);
        sessionStorage.setItem(key, JSON.stringify(body));
        location.reload();
      } catch (error) {
        status.textContent = `Sign-in failed: ${error.message}`;
      }
    });
    box.replaceChildren(el("label", { for: "demo-customer" }, "Sign in as a demo customer: "), select, " ", button, " ", status);
  }

  if (signedIn) showSignedIn();
  else showSignIn();
  loadWidget();
})();
