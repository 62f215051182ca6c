// The simulator's phone page: the user plays the selected citizen.
// Polls the simulator every second; every tap or text goes to /sim/reply.
"use strict";

const state = { contacts: [], selected: decodeURIComponent(location.hash.slice(1)) || null, shown: "", offline: false, scrollDown: true };
const $ = (id) => document.getElementById(id);

// Builds DOM nodes; text always goes in as text, never as HTML.
function el(tag, attrs = {}, children = []) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of [].concat(children)) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
}

// Text with its URLs turned into links.
function linkified(text) {
  return String(text).split(/(https?:\/\/[^\s)]+)/g).map((part, i) =>
    i % 2 ? el("a", { href: part, target: "_blank", rel: "noopener" }, part) : part);
}

async function api(path, body) {
  const options = body ? { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) } : {};
  const response = await fetch(path, options);
  const data = await response.json();
  if (!response.ok) throw new Error(data.errors ? data.errors[0].description : response.statusText);
  return data;
}

function selectedContact() {
  return state.contacts.find((c) => c.msisdn === state.selected);
}

// ---------------------------------------------------------------- contacts

// Most recent conversations first, then the other citizens in the sandbox's order.
function orderedContacts() {
  const active = state.contacts.filter((c) => c.last_activity).sort((a, b) => b.last_activity.localeCompare(a.last_activity));
  return active.concat(state.contacts.filter((c) => !c.last_activity));
}

function renderContacts() {
  $("contacts").replaceChildren(...orderedContacts().map(contactItem));
}

function contactItem(contact) {
  const initials = contact.name.split(/\s+/).slice(0, 2).map((w) => w[0]).join("").replace("+", "#");
  const badge = !contact.has_whatsapp ? el("span", { class: "badge off" }, "no WhatsApp")
    : contact.message_count ? el("span", { class: "badge count" }, String(contact.message_count)) : null;
  return el("li", { class: "contact" + (contact.msisdn === state.selected ? " selected" : ""), onclick: () => select(contact.msisdn) }, [
    el("div", { class: "avatar" }, initials),
    el("div", { class: "contact-text" }, [
      el("div", { class: "contact-name" }, contact.name),
      el("div", { class: "contact-number" }, contact.msisdn),
    ]),
    badge,
  ]);
}

function select(msisdn) {
  state.selected = msisdn;
  state.shown = "";
  state.scrollDown = true;
  history.replaceState(null, "", "#" + encodeURIComponent(msisdn));
  renderContacts();
  refresh();
}

// ---------------------------------------------------------------- messages

function renderChat(messages) {
  const contact = selectedContact();
  $("chat-title").textContent = contact ? contact.name : state.selected;
  $("chat-subtitle").textContent = contact && !contact.has_whatsapp
    ? contact.msisdn + " · no WhatsApp account: WhatsApp messages fail, SMS arrive" : (contact ? contact.msisdn : "");
  for (const control of $("composer").elements) control.disabled = Boolean(contact && !contact.has_whatsapp);

  const box = $("messages");
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
  const byId = Object.fromEntries(messages.map((m) => [m.id, m]));
  box.replaceChildren(...(messages.length ? messages.map((m) => messageRow(m, byId)) : [el("div", { class: "empty" }, "No messages yet")]));
  // Follow new messages unless the user scrolled up to read; always after they act.
  if (atBottom || state.scrollDown) box.scrollTop = box.scrollHeight;
  state.scrollDown = false;
}

function messageRow(message, byId) {
  const fromCityHall = message.direction === "sent";
  const bubble = el("div", { class: "bubble" }, [
    message.replyTo && byId[message.replyTo.id] ? el("div", { class: "quote" }, preview(byId[message.replyTo.id])) : null,
    ...body(message),
    el("span", { class: "meta" }, [time(message.createdDatetime), fromCityHall ? ticks(message.status) : null]),
  ]);
  return el("div", { class: "row " + (fromCityHall ? "city-hall" : "citizen") + (message.type === "sms" ? " sms" : "") }, [
    bubble,
    message.error ? el("div", { class: "failed-note" }, `⚠ Not delivered: ${message.error.description} (${message.error.code})`) : null,
    message.buttons && message.status !== "failed" ? choices(message) : null,
  ]);
}

// The bubble's content, by message type.
function body(message) {
  const content = message.content;
  switch (message.type) {
    case "text": return linkified(content.text);
    case "hsm": return [el("div", { class: "kind" }, "Template · " + content.hsm.templateName), ...linkified(message.rendered)];
    case "sms": return [el("div", { class: "kind" }, `SMS · ${message.originator} · ${message.parts} part${message.parts === 1 ? "" : "s"}`), ...linkified(message.body)];
    case "interactive": return interactiveBody(content.interactive);
    case "button": return [content.button.text];
    case "image": return [mediaBox("📷", "Photo", content.image.url), content.image.caption ? el("div", { class: "caption" }, linkified(content.image.caption)) : null];
    case "audio": return [mediaBox("🎤", "Voice message", content.audio.url)];
    case "location": return [mediaBox("📍", "Location", `https://www.openstreetmap.org/?mlat=${content.location.latitude}&mlon=${content.location.longitude}`)];
    case "whatsappSticker": return [mediaBox("🙂", "Sticker", content.whatsappSticker.link)];
    default: return [el("em", {}, `(${message.type} message)`)];
  }
}

function interactiveBody(interactive) {
  if (interactive.type === "button_reply" || interactive.type === "list_reply") return [interactive.reply.text];
  return [
    interactive.header && interactive.header.text ? el("div", { class: "header" }, interactive.header.text) : null,
    ...linkified(interactive.body.text),
    interactive.footer ? el("div", { class: "footer" }, interactive.footer.text) : null,
  ];
}

function mediaBox(icon, label, url) {
  return el("div", { class: "media-box" }, [el("span", { class: "icon" }, icon), el("a", { href: url, target: "_blank", rel: "noopener" }, label)]);
}

// One line that recalls a message, for the quote above a reply.
function preview(message) {
  const c = message.content;
  const text = message.rendered || c.text || (c.interactive && c.interactive.body && c.interactive.body.text) || message.type;
  return text.split("\n")[0];
}

function time(datetime) {
  return new Date(datetime).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
}

function ticks(status) {
  const marks = { pending: "🕓", sent: "✓", delivered: "✓✓", read: "✓✓" };
  if (!marks[status]) return null;
  return el("span", { class: "ticks" + (status === "read" ? " read" : ""), title: status }, marks[status]);
}

// Quick replies and reply buttons under the bubble; list rows behind their button.
function choices(message) {
  const buttons = message.buttons.map((b) => el("button", { class: "choice", type: "button", onclick: () => tap(message.id, b.index) }, [
    b.title, b.description ? el("span", { class: "description" }, b.description) : null,
  ]));
  const interactive = message.content.interactive;
  if (!interactive || interactive.type !== "list") return el("div", { class: "choices" }, buttons);
  const rows = el("div", { class: "list-rows" }, buttons);
  const opener = el("button", { class: "choice", type: "button", onclick: () => rows.classList.toggle("open") }, "☰ " + interactive.action.button);
  return el("div", { class: "choices" }, [opener, rows]);
}

// ------------------------------------------------------------ citizen acts

async function reply(body) {
  try {
    await api("/sim/reply", Object.assign({ msisdn: state.selected }, body));
    showNotice("");
    state.scrollDown = true;
    refresh();
  } catch (error) {
    showNotice(error.message);
  }
}

const tap = (messageId, index) => reply({ button: { message_id: messageId, index } });

function showNotice(text) {
  $("notice").textContent = text;
  $("notice").hidden = !text;
}

$("composer").addEventListener("submit", (event) => {
  event.preventDefault();
  const text = $("text").value.trim();
  if (!text || !state.selected) return;
  $("text").value = "";
  reply({ text });
});

for (const button of document.querySelectorAll("[data-media]")) {
  button.addEventListener("click", () => state.selected && reply({ media: button.dataset.media }));
}

// ------------------------------------------------------------------ polling

async function refresh() {
  try {
    state.contacts = await api("/sim/contacts");
    if (!state.selected && state.contacts.length) state.selected = orderedContacts()[0].msisdn;
    renderContacts();
    if (!state.selected) return;
    const messages = await api("/sim/messages?msisdn=" + encodeURIComponent(state.selected));
    if (state.offline) showNotice("");
    state.offline = false;
    const snapshot = JSON.stringify(messages);
    if (snapshot !== state.shown) {  // redraw only on change, so an open list stays open
      renderChat(messages);
      state.shown = snapshot;
    }
  } catch (error) {
    state.offline = true;
    showNotice("Simulator unreachable: " + error.message);
  }
}

refresh();
setInterval(refresh, 1000);
