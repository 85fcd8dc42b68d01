/* Lookout console: a small Slack-like client for the local console API.
 *
 * Contract (served by bot):
 *   GET  /console/api/channels                      -> ["#incidents", ...]
 *   GET  /console/api/messages?channel=C[&thread=T] -> [message, ...] (oldest first)
 *   POST /console/api/command {text,user,channel,thread} -> {ok, ephemeral, blocks, message}
 *   GET  /console/api/incidents?status=open         -> [incident, ...]
 *   GET  /console/api/session                       -> {auth, user, warning}
 *   SSE  /console/api/stream  events "message" (message object) and "incidents"
 *
 * Stable test hooks: .message[data-message-id][data-incident-id], #command-input,
 * #thread-panel, #thread-input, button[data-command], body[data-stream="open"],
 * form[data-form-command] (a form block: its fields are named after the parameters),
 * a.file-link[download] (a file block), time.moment[datetime] (a time, shown in the browser's
 * zone), .show-more (a long block folded), location hash #channel=C&message=M[&thread=T]
 * (a link to a message, opened in its thread when T is given).
 */
"use strict";

(() => {
  const API = "/console/api";
  const DEFAULT_CHANNEL = "#incidents";
  const DEFAULT_USER = "alice";
  const USER_KEY = "lookout.console.user";
  const COMMAND_PREFIX = "/lookout";

  const $ = (id) => document.getElementById(id);

  const newPane = () => ({ order: [], byId: new Map(), ephemeral: [], arrived: new Set() });

  const state = {
    user: DEFAULT_USER,
    channel: DEFAULT_CHANNEL,
    channels: [],
    unread: new Map(),
    seen: new Set(),
    main: newPane(),
    thread: null, // {rootId, channel, ...pane}
    history: [],
    loadToken: 0,
    everConnected: false,
    ephemeralSeq: 0,
  };

  /* ------------------------------------------------------------------ markdown */

  const HTML_ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

  function escapeHtml(value) {
    return String(value ?? "").replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]);
  }

  // Works on already-escaped text, so the URL cannot break out of the attribute.
  function safeUrl(url) {
    return /^(https?:|mailto:|\/(?!\/)|#)/i.test(url) ? url : null;
  }

  function inlineMarkdown(escaped) {
    const codes = [];
    let s = escaped.replace(/`([^`\n]+)`/g, (_, code) => {
      codes.push(code);
      return `\u0000${codes.length - 1}\u0000`;
    });
    s = s.replace(/\[([^\]\n]+)\]\(([^)\s]+)\)/g, (match, text, url) => {
      const href = safeUrl(url);
      if (!href) return match;
      // A link into the console itself (#channel=…) stays on the page.
      if (href.startsWith("#")) return `<a class="console-link" href="${href}">${text}</a>`;
      return `<a href="${href}" target="_blank" rel="noopener noreferrer">${text}</a>`;
    });
    s = s.replace(/\*\*([^*\n]+?)\*\*/g, "<strong>$1</strong>");
    s = s.replace(/(^|[\s(>])_([^_\n]+?)_(?=$|[\s).,!?:;<])/g, "$1<em>$2</em>");
    return s.replace(/\u0000(\d+)\u0000/g, (_, i) => `<code>${codes[Number(i)]}</code>`);
  }

  function linesToHtml(escaped) {
    const lines = escaped.split("\n");
    const isBullet = (line) => line.startsWith("• ");
    return lines
      .map((line, i) => {
        if (isBullet(line)) {
          return `<div class="md-bullet"><span class="md-dot">•</span>` +
            `<span>${inlineMarkdown(line.slice(2))}</span></div>`;
        }
        const next = lines[i + 1];
        const br = next !== undefined && !isBullet(next) ? "<br>" : "";
        return inlineMarkdown(line) + br;
      })
      .join("");
  }

  // A backslash before one of these marks it as data: it shows as itself, never as markup.
  const MARKED = /\\([\\`*_~\[\]])/g;
  const LITERAL = /\u0001(\d+)\u0001/g;
  // A time: Unix seconds, the `now` it was written against, s (seconds shown) or m.
  const MOMENT = /\uE100(-?\d+)\|(-?\d+)\|([sm])\uE101/g;
  const MOMENT_SLOT = /\u0002(\d+)\u0002/g;

  /** Escape HTML first, then apply the supported subset (bold, italic, code, links, bullets);
   * characters marked as data are set aside first and put back, as text, last. */
  function renderMarkdown(text) {
    const literals = [];
    const moments = [];
    const marked = String(text ?? "")
      .replace(/[\u0000-\u0002]/g, "")
      .replace(MOMENT, (_, at, now, precision) => {
        moments.push({ at: Number(at), seconds: precision === "s" });
        return `\u0002${moments.length - 1}\u0002`;
      })
      .replace(MARKED, (_, c) => {
        literals.push(c);
        return `\u0001${literals.length - 1}\u0001`;
      });
    const html = renderMarked(escapeHtml(marked));
    return html
      .replace(LITERAL, (_, i) => escapeHtml(literals[Number(i)]))
      .replace(MOMENT_SLOT, (_, i) => momentHtml(moments[Number(i)]));
  }

  /** A time in the browser's zone: the clock alone when it is from today, else with its
   * date (and year, when not this year); the full date and zone on hover. */
  function momentText(date, seconds) {
    const clock = { hour: "2-digit", minute: "2-digit" };
    if (seconds) clock.second = "2-digit";
    const time = date.toLocaleTimeString([], clock);
    const today = new Date();
    if (date.toDateString() === today.toDateString()) return time;
    const day = { month: "short", day: "numeric" };
    if (date.getFullYear() !== today.getFullYear()) day.year = "numeric";
    return `${date.toLocaleDateString([], day)}, ${time}`;
  }

  function momentHtml(moment) {
    if (!moment) return "";
    const date = new Date(moment.at * 1000);
    if (Number.isNaN(date.getTime())) return "";
    const title = date.toLocaleString([], { dateStyle: "full", timeStyle: "long" });
    return `<time class="moment" datetime="${date.toISOString()}" title="${escapeHtml(title)}">` +
      `${escapeHtml(momentText(date, moment.seconds))}</time>`;
  }

  function renderMarked(escaped) {
    // ```fenced``` blocks are kept verbatim; everything else gets the inline subset.
    const parts = escaped.split(/```(?:[a-z]*\n)?([\s\S]*?)```/);
    return parts
      .map((part, i) => {
        if (i % 2) return `<pre>${part.replace(/\n$/, "")}</pre>`;
        // Newlines hugging a fenced block are layout, not line breaks.
        const trimmed = part.replace(i > 0 ? /^\n/ : /^/, "");
        return linesToHtml(i < parts.length - 1 ? trimmed.replace(/\n$/, "") : trimmed);
      })
      .join("");
  }

  /* ------------------------------------------------------------------- helpers */

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function mdEl(tag, className, text) {
    const node = el(tag, className);
    node.innerHTML = renderMarkdown(text);
    return node;
  }

  function formatTime(iso) {
    const date = new Date(iso);
    if (Number.isNaN(date.getTime())) return "";
    return momentText(date, false);
  }

  // Long text is folded like Slack's "See more": the whole of it is one click away.
  const FOLD_CHARS = 700;
  const FOLD_LINES = 12;

  function foldable(node, text) {
    const value = String(text ?? "");
    if (value.length <= FOLD_CHARS && value.split("\n").length <= FOLD_LINES) return node;
    const wrap = el("div", "foldable is-folded");
    const more = el("button", "show-more", "Show more");
    more.type = "button";
    more.setAttribute("aria-expanded", "false");
    more.addEventListener("click", () => {
      const folded = wrap.classList.toggle("is-folded");
      more.textContent = folded ? "Show more" : "Show less";
      more.setAttribute("aria-expanded", String(!folded));
    });
    wrap.append(node, more);
    return wrap;
  }

  function hueOf(name) {
    let h = 0;
    for (const ch of String(name)) h = (h * 31 + ch.charCodeAt(0)) % 360;
    return h;
  }

  function isNewer(candidate, current) {
    const a = Date.parse(candidate.updated_at || candidate.created_at || "");
    const b = Date.parse(current.updated_at || current.created_at || "");
    return Number.isNaN(a) || Number.isNaN(b) || a >= b;
  }

  function nearBottom(node) {
    return node.scrollHeight - node.scrollTop - node.clientHeight < 80;
  }

  function channelLabel(channel) {
    return String(channel).replace(/^#/, "");
  }

  /* ----------------------------------------------------------------------- api */

  // One FastAPI validation issue, e.g. {loc: ["body", "user"], msg: "..."} -> "user: ...".
  function describeIssue(issue) {
    if (!issue || typeof issue !== "object") return String(issue);
    const field = Array.isArray(issue.loc) ? issue.loc.filter((p) => p !== "body").join(".") : "";
    const msg = issue.msg || JSON.stringify(issue);
    return field ? `${field}: ${msg}` : msg;
  }

  function describeError(res, data) {
    const detail = data && data.detail;
    if (typeof detail === "string") return detail;
    if (Array.isArray(detail)) return detail.map(describeIssue).join("; ");
    if (detail) return JSON.stringify(detail);
    return `${res.status} ${res.statusText || "request failed"}`;
  }

  // Lists are the chosen user's view: with projects configured, only their projects' things
  // (behind a proxy the server uses the signed-in user whatever this says).
  function asUser(path) {
    if (!/^[\w.@+-]{1,64}$/.test(state.user || "") || path.startsWith("/session")) return path;
    return `${path}${path.includes("?") ? "&" : "?"}user=${encodeURIComponent(state.user)}`;
  }

  async function api(path, { method = "GET", body } = {}) {
    let res;
    try {
      res = await fetch(API + (method === "GET" ? asUser(path) : path), {
        method,
        headers: body ? { "Content-Type": "application/json" } : {},
        body: body ? JSON.stringify(body) : undefined,
      });
    } catch {
      throw new Error("Cannot reach the Lookout server.");
    }
    let data = null;
    try {
      data = await res.json();
    } catch {
      data = null;
    }
    if (!res.ok) throw new Error(describeError(res, data));
    return data;
  }

  function showError(text) {
    $("error-text").textContent = text;
    $("error-banner").hidden = false;
  }

  function hideError() {
    $("error-banner").hidden = true;
  }

  /* -------------------------------------------------------------------- blocks */

  // One word for the command line, quoted as Python's shlex.quote does.
  function shellQuote(word) {
    if (!word) return "''";
    if (/^[\w@%+=:,./-]+$/.test(word)) return word;
    return `'${word.replace(/'/g, "'\"'\"'")}'`;
  }

  function formatSize(bytes) {
    const n = Number(bytes) || 0;
    if (n < 1024) return `${n} B`;
    if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
    return `${(n / 1024 / 1024).toFixed(1)} MB`;
  }

  function formField(input) {
    const row = el("label", "form-field");
    row.append(el("span", "form-label", input.label || input.name));
    let field;
    const choices = Array.isArray(input.choices) ? input.choices : [];
    if (choices.length) {
      field = el("select", "form-select");
      if (!input.value) {
        const prompt = el("option", null, "Choose…");
        prompt.value = "";
        field.append(prompt);
      }
      for (const choice of choices) {
        const option = el("option", null, choice);
        option.value = choice;
        field.append(option);
      }
      field.value = input.value || "";
    } else {
      field = el("input", "form-input");
      field.type = "text";
      field.value = input.value || "";
      field.placeholder = input.hint || "";
      field.spellcheck = false;
      field.autocomplete = "off";
    }
    field.name = input.name;
    field.required = !input.optional;
    row.append(field);
    if (input.hint) row.append(el("span", "form-hint", input.hint));
    return row;
  }

  const BLOCK_RENDERERS = {
    text: (block) => foldable(mdEl("div", "block-text", block.text), block.text),
    context: (block) => mdEl("div", "block-context", block.text),
    fields(block) {
      const grid = el("div", "block-fields");
      for (const field of block.fields || []) {
        const cell = el("div", "field");
        cell.append(el("div", "field-label", field.label), mdEl("div", "field-value", field.value));
        grid.append(cell);
      }
      return grid;
    },
    table(block) {
      const wrap = el("div", "block-table");
      const table = el("table");
      const headRow = el("tr");
      for (const column of block.columns || []) headRow.append(el("th", null, column));
      const tbody = el("tbody");
      for (const row of block.rows || []) {
        const tr = el("tr");
        for (const cell of row) tr.append(mdEl("td", null, cell));
        tbody.append(tr);
      }
      const thead = el("thead");
      thead.append(headRow);
      table.append(thead, tbody);
      wrap.append(table);
      return wrap;
    },
    actions(block, ctx) {
      const bar = el("div", "block-actions");
      if (block.label) bar.append(el("span", "actions-label", `${block.label}:`));
      for (const button of block.buttons || []) {
        const style = ["primary", "danger"].includes(button.style) ? button.style : "default";
        const node = el("button", `btn btn-${style}`, button.label);
        node.type = "button";
        node.dataset.command = button.command;
        node.addEventListener("click", () => runButton(node, button.command, ctx));
        bar.append(node);
      }
      return bar;
    },
    form(block, ctx) {
      // Filled fields become `name=value` words on the form's command, which then runs as if
      // typed (the same path as a button).
      const form = el("form", "block-form");
      form.dataset.formCommand = block.command;
      form.noValidate = false;
      if (block.title) form.append(el("div", "form-title", block.title));
      for (const input of block.inputs || []) form.append(formField(input));
      const submit = el("button", "btn btn-primary", block.submit || "Submit");
      submit.type = "submit";
      form.append(submit);
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        const words = [block.command];
        for (const input of block.inputs || []) {
          const field = form.elements.namedItem(input.name);
          const value = field && "value" in field ? String(field.value).trim() : "";
          if (value) words.push(shellQuote(`${input.name}=${value}`));
        }
        submit.disabled = true;
        submit.classList.add("is-busy");
        try {
          showAnswer(await sendCommand(words.join(" "), ctx), ctx);
        } finally {
          submit.disabled = false;
          submit.classList.remove("is-busy");
        }
      });
      return form;
    },
    file(block) {
      const wrap = el("div", "block-file");
      const link = el("a", "file-link", `📎 ${block.name || "file"}`);
      const url = String(block.url || "");
      if (/^data:[\w.+-]+\/[\w.+-]+;base64,/.test(url)) {
        link.href = url;
        link.download = block.name || "file";
      }
      wrap.append(link, el("span", "file-size", formatSize(block.size)));
      return wrap;
    },
    image(block) {
      const src = String(block.url || "");
      if (!/^(data:image\/|https?:|\/(?!\/))/i.test(src)) return el("div", "block-context", "[image]");
      const img = el("img", "block-image");
      img.src = src;
      img.alt = block.alt || "";
      img.loading = "lazy";
      return img;
    },
  };

  function renderBlocks(blocks, ctx) {
    const frag = document.createDocumentFragment();
    for (const block of blocks || []) {
      const render = BLOCK_RENDERERS[block && block.type];
      frag.append(render ? render(block, ctx) : el("div", "block-context", `[${block.type} block]`));
    }
    return frag;
  }

  /* ------------------------------------------------------------------ messages */

  function avatarFor(author, kind) {
    const avatar = el("div", `avatar avatar-${kind === "bot" ? "bot" : "user"}`);
    avatar.textContent = (String(author || "?").trim()[0] || "?").toUpperCase();
    if (kind !== "bot") avatar.style.background = `hsl(${hueOf(author)} 45% 42%)`;
    avatar.setAttribute("aria-hidden", "true");
    return avatar;
  }

  /**
   * Build one message element.
   * opts: {pane: "main"|"thread", asThreadRoot: bool}
   */
  function buildMessage(msg, opts) {
    const node = el("div", "message");
    if (!opts.asThreadRoot) {
      node.dataset.messageId = msg.id;
      if (msg.incident_id !== null && msg.incident_id !== undefined) {
        node.dataset.incidentId = String(msg.incident_id);
      }
    } else {
      node.classList.add("is-thread-root");
    }
    const ctx = {
      pane: opts.pane,
      channel: msg.channel,
      thread: msg.thread_id || msg.id,
    };

    const content = el("div", "message-content");
    const meta = el("div", "message-meta");
    meta.append(el("span", "author", msg.author));
    if (msg.author_kind === "bot") meta.append(el("span", "app-badge", "APP"));
    const time = el("time", "timestamp", formatTime(msg.created_at));
    time.dateTime = msg.created_at || "";
    time.title = msg.created_at ? new Date(msg.created_at).toLocaleString() : "";
    meta.append(time);
    if (msg.updated_at && msg.created_at && msg.updated_at !== msg.created_at) {
      meta.append(el("span", "edited", "(edited)"));
    }
    content.append(meta);

    const body = el("div", "message-body");
    if (msg.color) body.classList.add("attachment", `color-${msg.color}`);
    body.append(renderBlocks(msg.blocks, ctx));
    content.append(body);

    if (opts.pane === "main" && !msg.thread_id) {
      const count = Number(msg.reply_count) || 0;
      if (count > 0) {
        const link = el("button", "reply-link", `${count} ${count === 1 ? "reply" : "replies"}`);
        link.type = "button";
        link.append(el("span", "reply-hint", "View thread"));
        link.addEventListener("click", () => openThread(msg.id));
        content.append(link);
      }
      const hover = el("div", "message-actions");
      const reply = el("button", "hover-action", "Reply in thread");
      reply.type = "button";
      reply.addEventListener("click", () => openThread(msg.id));
      hover.append(reply);
      node.append(hover);
    }

    node.prepend(avatarFor(msg.author, msg.author_kind));
    node.append(content);
    return node;
  }

  function buildEphemeral(entry, pane) {
    const node = el("div", "message ephemeral");
    node.dataset.ephemeral = "true";
    const content = el("div", "message-content");
    const meta = el("div", "message-meta");
    meta.append(el("span", "author", "Lookout"), el("span", "app-badge", "APP"));
    meta.append(el("span", "ephemeral-note", "Only visible to you"));
    const dismiss = el("button", "dismiss", "Dismiss");
    dismiss.type = "button";
    dismiss.addEventListener("click", () => dismissEphemeral(pane, entry.key));
    meta.append(dismiss);
    content.append(meta);
    if (entry.command) content.append(el("div", "ephemeral-command", entry.command));
    const body = el("div", "message-body");
    body.append(renderBlocks(entry.blocks, { pane, channel: entry.channel, thread: entry.thread }));
    content.append(body);
    node.append(avatarFor("Lookout", "bot"), content);
    return node;
  }

  /** Messages and anchored ephemeral notes of a pane, in display order. */
  function paneEntries(paneState) {
    const entries = [];
    const anchored = new Map();
    const placed = new Set();
    for (const e of paneState.ephemeral) {
      const key = e.afterId && paneState.byId.has(e.afterId) ? e.afterId : null;
      if (key === null && e.afterId) continue; // anchor vanished: appended at the end
      if (!anchored.has(key)) anchored.set(key, []);
      anchored.get(key).push(e);
    }
    const pushEphemerals = (key) => {
      for (const e of anchored.get(key) || []) {
        entries.push({ key: e.key, sig: e.key, ephemeral: e });
        placed.add(e.key);
      }
    };
    pushEphemerals(null);
    for (const id of paneState.order) {
      const msg = paneState.byId.get(id);
      entries.push({ key: `m:${id}`, sig: JSON.stringify(msg), msg });
      pushEphemerals(id);
    }
    for (const e of paneState.ephemeral) {
      if (!placed.has(e.key)) entries.push({ key: e.key, sig: e.key, ephemeral: e });
    }
    return entries;
  }

  /** Keyed reconcile: unchanged nodes stay, changed ones are replaced in place. */
  function reconcile(container, entries, build) {
    const existing = new Map();
    for (const child of [...container.children]) {
      if (child.dataset.key) existing.set(child.dataset.key, child);
      else child.remove();
    }
    let prev = null;
    for (const entry of entries) {
      let node = existing.get(entry.key);
      if (!node || node.dataset.sig !== entry.sig) {
        const fresh = build(entry);
        fresh.dataset.key = entry.key;
        fresh.dataset.sig = entry.sig;
        if (node) node.replaceWith(fresh);
        node = fresh;
      }
      existing.delete(entry.key);
      const expected = prev ? prev.nextSibling : container.firstChild;
      if (node !== expected) container.insertBefore(node, expected);
      prev = node;
    }
    for (const stale of existing.values()) stale.remove();
  }

  function renderMain() {
    const list = $("message-list");
    const stick = nearBottom(list);
    const entries = paneEntries(state.main);
    reconcile(list, entries, (entry) =>
      entry.ephemeral ? buildEphemeral(entry.ephemeral, "main") : buildMessage(entry.msg, { pane: "main" }),
    );
    if (!entries.length) {
      const empty = el("div", "empty-state");
      empty.append(
        el("div", "empty-title", `This is the very beginning of ${state.channel}`),
        mdEl("div", "empty-sub", "Alerts for this channel will show up here. Try `/lookout help`."),
      );
      list.append(empty);
    }
    if (stick) list.scrollTop = list.scrollHeight;
  }

  function renderThread() {
    const thread = state.thread;
    if (!thread) return;
    const root = state.main.byId.get(thread.rootId) || thread.root;
    const rootBox = $("thread-root");
    rootBox.replaceChildren();
    if (root) rootBox.append(buildMessage(root, { pane: "thread", asThreadRoot: true }));
    const count = thread.order.length;
    $("thread-divider").textContent = count ? `${count} ${count === 1 ? "reply" : "replies"}` : "No replies yet";
    const body = $("thread-body");
    const stick = nearBottom(body);
    reconcile($("thread-replies"), paneEntries(thread), (entry) =>
      entry.ephemeral ? buildEphemeral(entry.ephemeral, "thread") : buildMessage(entry.msg, { pane: "thread" }),
    );
    if (stick) body.scrollTop = body.scrollHeight;
  }

  function upsert(paneState, msg) {
    const current = paneState.byId.get(msg.id);
    if (current && !isNewer(msg, current)) return;
    if (!current) paneState.order.push(msg.id);
    paneState.byId.set(msg.id, msg);
    paneState.arrived.add(msg.id);
  }

  function replaceAll(paneState, messages) {
    const fetched = new Set(messages.map((m) => m.id));
    const byId = new Map();
    for (const msg of messages) {
      const current = paneState.byId.get(msg.id);
      byId.set(msg.id, current && paneState.arrived.has(msg.id) && !isNewer(msg, current) ? current : msg);
      state.seen.add(msg.id);
    }
    // Keep messages that streamed in while the request was in flight.
    const late = paneState.order.filter((id) => paneState.arrived.has(id) && !fetched.has(id));
    for (const id of late) byId.set(id, paneState.byId.get(id));
    paneState.order = [...messages.map((m) => m.id), ...late];
    paneState.byId = byId;
    paneState.arrived = new Set();
  }

  function addEphemeral(pane, blocks, command, ctx) {
    const paneState = pane === "thread" ? state.thread : state.main;
    if (!paneState) return;
    state.ephemeralSeq += 1;
    paneState.ephemeral.push({
      key: `e:${state.ephemeralSeq}`,
      afterId: paneState.order[paneState.order.length - 1] || null,
      blocks: blocks || [],
      command,
      channel: ctx.channel,
      thread: ctx.thread,
    });
    if (pane === "thread") {
      renderThread();
      $("thread-body").scrollTop = $("thread-body").scrollHeight;
    } else {
      renderMain();
      $("message-list").scrollTop = $("message-list").scrollHeight;
    }
  }

  function dismissEphemeral(pane, key) {
    const paneState = pane === "thread" ? state.thread : state.main;
    if (!paneState) return;
    paneState.ephemeral = paneState.ephemeral.filter((e) => e.key !== key);
    if (pane === "thread") renderThread();
    else renderMain();
  }

  /* ------------------------------------------------------------------ loading */

  async function loadChannel() {
    const channel = state.channel;
    const token = ++state.loadToken;
    state.main.arrived = new Set();
    try {
      const messages = await api(`/messages?channel=${encodeURIComponent(channel)}`);
      if (token !== state.loadToken || channel !== state.channel) return;
      replaceAll(state.main, (messages || []).filter((m) => !m.thread_id));
      renderMain();
      $("message-list").dataset.loaded = "true";
    } catch (err) {
      showError(`Could not load ${channel}: ${err.message}`);
    }
  }

  async function loadThread() {
    const thread = state.thread;
    if (!thread) return;
    thread.arrived = new Set();
    try {
      const query = `channel=${encodeURIComponent(thread.channel)}&thread=${encodeURIComponent(thread.rootId)}`;
      const replies = await api(`/messages?${query}`);
      if (state.thread !== thread) return;
      replaceAll(thread, replies || []);
      renderThread();
      if (thread.fresh) {
        thread.fresh = false; // like Slack: a freshly opened thread starts at its root
        $("thread-body").scrollTop = 0;
      }
    } catch (err) {
      showError(`Could not load the thread: ${err.message}`);
    }
  }

  let refreshTimer = null;
  function scheduleRefresh() {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(() => {
      loadChannel();
      if (state.thread) loadThread();
    }, 250);
  }

  let incidentsTimer = null;
  function scheduleIncidents() {
    clearTimeout(incidentsTimer);
    incidentsTimer = setTimeout(loadIncidents, 150);
  }

  async function loadIncidents() {
    try {
      const incidents = (await api("/incidents?status=open")) || [];
      renderIncidents(incidents);
    } catch {
      $("incident-count").textContent = "incidents unavailable";
    }
  }

  const SEVERITY_ORDER = ["critical", "error", "high", "warning", "info"];

  function renderIncidents(incidents) {
    const n = incidents.length;
    $("incident-count").textContent = `${n} open incident${n === 1 ? "" : "s"}`;
    $("incident-pill").classList.toggle("has-open", n > 0);
    const pop = $("incident-popover");
    pop.replaceChildren();
    if (!n) {
      pop.append(el("div", "popover-empty", "No open incidents. All quiet."));
      return;
    }
    const sorted = [...incidents].sort(
      (a, b) => rank(a.severity) - rank(b.severity) || (b.id || 0) - (a.id || 0),
    );
    for (const inc of sorted) {
      const row = el("button", "popover-row");
      row.type = "button";
      row.append(
        el("span", `sev sev-${String(inc.severity || "info").toLowerCase()}`, inc.severity || "info"),
        el("span", "popover-title", `#${inc.id} ${inc.title || ""}`),
        el("span", "popover-service", inc.service || ""),
      );
      row.dataset.incidentId = String(inc.id);
      row.addEventListener("click", () => jumpToIncident(inc));
      pop.append(row);
    }
  }

  function rank(severity) {
    const i = SEVERITY_ORDER.indexOf(String(severity || "").toLowerCase());
    return i === -1 ? SEVERITY_ORDER.length : i;
  }

  /** To an incident's message wherever it is: its channel selected, the message shown and
   * its thread opened. */
  async function jumpToIncident(inc) {
    togglePopover(false);
    if (inc.message && inc.channel) {
      await goTo(inc.channel, inc.message, inc.message);
      return;
    }
    const node = document.querySelector(`#message-list .message[data-incident-id="${Number(inc.id)}"]`);
    if (node) highlight(node);
  }

  function highlight(node) {
    node.scrollIntoView({ block: "center" });
    node.classList.remove("flash");
    void node.offsetWidth;
    node.classList.add("flash");
  }

  /** Show `message` in `channel` (switching to it), and open `thread` when given. */
  async function goTo(channel, message, thread) {
    ensureChannel(channel);
    if (channel !== state.channel) {
      selectChannel(channel);
    }
    // A refresh started meanwhile (a live event) may win over this load: try again then.
    for (let tries = 0; tries < 5 && !state.main.byId.has(message); tries += 1) {
      await loadChannel();
      if (state.channel !== channel) return;
    }
    const node = document.querySelector(`#message-list .message[data-message-id="${CSS.escape(message)}"]`);
    if (node) highlight(node);
    if (thread && state.main.byId.has(thread)) openThread(thread);
  }

  function followHash() {
    const params = new URLSearchParams(location.hash.replace(/^#/, ""));
    const channel = params.get("channel");
    const message = params.get("message");
    if (channel && message) return goTo(channel, message, params.get("thread"));
    return null;
  }

  function togglePopover(force) {
    const pop = $("incident-popover");
    const open = force === undefined ? pop.hidden : force;
    pop.hidden = !open;
    $("incident-pill").setAttribute("aria-expanded", String(open));
  }

  /* ----------------------------------------------------------------- channels */

  function renderChannels() {
    const list = $("channel-list");
    list.replaceChildren();
    for (const channel of state.channels) {
      const li = el("li");
      const button = el("button", "channel");
      button.type = "button";
      button.dataset.channel = channel;
      if (channel === state.channel) {
        button.classList.add("active");
        button.setAttribute("aria-current", "page");
      }
      button.append(el("span", "hash", "#"), el("span", "channel-name", channelLabel(channel)));
      const unread = state.unread.get(channel) || 0;
      if (unread) {
        button.classList.add("has-unread");
        button.append(el("span", "badge", unread > 99 ? "99+" : String(unread)));
      }
      button.addEventListener("click", () => selectChannel(channel));
      li.append(button);
      list.append(li);
    }
  }

  function ensureChannel(channel) {
    if (!channel || state.channels.includes(channel)) return;
    state.channels.push(channel);
    state.channels.sort();
  }

  function selectChannel(channel) {
    if (channel === state.channel) return;
    state.channel = channel;
    state.unread.delete(channel);
    state.main = newPane();
    closeThread();
    $("channel-title").textContent = channel;
    $("command-input").placeholder = `Message ${channel} — e.g. /lookout incidents`;
    document.title = `${channel} · Lookout`;
    $("message-list").replaceChildren();
    delete $("message-list").dataset.loaded;
    renderChannels();
    loadChannel();
  }

  async function loadChannels() {
    try {
      const channels = await api("/channels");
      state.channels = Array.isArray(channels) ? [...channels] : [];
    } catch (err) {
      showError(`Could not load channels: ${err.message}`);
    }
    if (!state.channels.length) state.channels = [DEFAULT_CHANNEL];
    state.channel = state.channels.includes(DEFAULT_CHANNEL) ? DEFAULT_CHANNEL : state.channels[0];
    $("channel-title").textContent = state.channel;
    $("command-input").placeholder = `Message ${state.channel} — e.g. /lookout incidents`;
    document.title = `${state.channel} · Lookout`;
    renderChannels();
  }

  /* ------------------------------------------------------------------- threads */

  function openThread(rootId) {
    const root = state.main.byId.get(rootId);
    state.thread = { rootId, channel: state.channel, root, fresh: true, ...newPane() };
    $("thread-panel").hidden = false;
    $("thread-panel").dataset.rootId = rootId;
    $("thread-channel").textContent = state.channel;
    $("thread-replies").replaceChildren();
    renderThread();
    loadThread();
    $("thread-input").focus();
  }

  function closeThread() {
    state.thread = null;
    $("thread-panel").hidden = true;
    delete $("thread-panel").dataset.rootId;
  }

  /* ------------------------------------------------------------------ commands */

  function normaliseCommand(raw) {
    const text = raw.trim();
    if (text === COMMAND_PREFIX || text.startsWith(`${COMMAND_PREFIX} `)) return text;
    return `${COMMAND_PREFIX} ${text}`;
  }

  /** ctx: {pane, channel, thread}. Resolves to the server's answer when it accepted the
   * command, else null. */
  async function sendCommand(raw, ctx) {
    if (!raw.trim()) return null;
    const text = normaliseCommand(raw);
    const body = { text, user: state.user, channel: ctx.channel, thread: ctx.thread || null };
    try {
      const res = (await api("/command", { method: "POST", body })) || {};
      hideError();
      if (res.message) onMessage(res.message);
      if (res.pointer) onMessage(res.pointer);
      if (res.ephemeral || (res.ok === false && res.blocks && res.blocks.length)) {
        addEphemeral(ctx.pane, res.blocks, text, ctx);
      } else if (res.ok === false) {
        showError(`Command failed: ${text}`);
      }
      scheduleRefresh();
      scheduleIncidents();
      return res;
    } catch (err) {
      showError(err.message);
      return null;
    }
  }

  /** A click in the channel whose answer landed in a thread opens that thread, so the answer
   * (runbook suggestions, details) is in view. */
  function showAnswer(res, ctx) {
    const msg = res && res.message;
    if (ctx.pane !== "main" || !msg || !msg.thread_id || msg.channel !== state.channel) return;
    if (!state.thread || state.thread.rootId !== msg.thread_id) openThread(msg.thread_id);
  }

  async function runButton(node, command, ctx) {
    node.disabled = true;
    node.classList.add("is-busy");
    try {
      showAnswer(await sendCommand(command, ctx), ctx);
    } finally {
      node.disabled = false;
      node.classList.remove("is-busy");
    }
  }

  function setupComposer(input, form, ctxFn) {
    let historyIndex = -1;
    const autosize = () => {
      input.style.height = "auto";
      input.style.height = `${Math.min(input.scrollHeight, 160)}px`;
    };
    input.addEventListener("input", autosize);
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        form.requestSubmit();
      } else if (event.key === "ArrowUp" && !input.value && state.history.length) {
        event.preventDefault();
        historyIndex = Math.min(historyIndex + 1, state.history.length - 1);
        input.value = state.history[state.history.length - 1 - historyIndex];
        autosize();
      }
    });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const raw = input.value;
      if (!raw.trim()) return;
      historyIndex = -1;
      state.history.push(raw.trim());
      input.value = "";
      autosize();
      const ok = await sendCommand(raw, ctxFn());
      if (!ok && !input.value) {
        input.value = raw;
        autosize();
      }
    });
  }

  /* -------------------------------------------------------------------- stream */

  function onMessage(msg) {
    if (!msg || !msg.id) return;
    const isNew = !state.seen.has(msg.id);
    state.seen.add(msg.id);
    if (msg.channel && !state.channels.includes(msg.channel)) {
      ensureChannel(msg.channel);
      renderChannels();
    }
    if (msg.channel !== state.channel) {
      if (isNew) {
        state.unread.set(msg.channel, (state.unread.get(msg.channel) || 0) + 1);
        renderChannels();
      }
      return;
    }
    if (!msg.thread_id) {
      upsert(state.main, msg);
      renderMain();
      if (state.thread && state.thread.rootId === msg.id) renderThread();
      return;
    }
    if (state.thread && state.thread.rootId === msg.thread_id) {
      upsert(state.thread, msg);
      renderThread();
    }
    if (isNew) scheduleRefresh(); // the root's reply count changed
  }

  function setStreamStatus(status) {
    document.body.dataset.stream = status;
    const label = { open: "Live", reconnecting: "Reconnecting…", connecting: "Connecting…" };
    const node = $("stream-status");
    node.textContent = label[status] || status;
    node.className = `stream-status is-${status}`;
  }

  function connectStream() {
    const source = new EventSource(`${API}/stream`);
    source.addEventListener("open", () => {
      const reconnected = state.everConnected;
      state.everConnected = true;
      setStreamStatus("open");
      if (reconnected) {
        // We may have missed events while disconnected.
        scheduleRefresh();
        scheduleIncidents();
      }
    });
    source.addEventListener("error", () => {
      setStreamStatus("reconnecting");
      if (source.readyState === EventSource.CLOSED) {
        setTimeout(connectStream, 3000); // the browser gave up; retry ourselves
      }
    });
    source.addEventListener("message", (event) => {
      try {
        onMessage(JSON.parse(event.data));
      } catch (err) {
        console.warn("bad message event", err);
      }
      scheduleIncidents();
    });
    source.addEventListener("incidents", scheduleIncidents);
  }

  /* ---------------------------------------------------------------------- user */

  const NAME_HINT = "letters, digits and . _ @ + -";

  /** Why `name` cannot be a console name (the server's sentence), or null. */
  function nameProblem(name) {
    if (name.length > 64) return `A name is at most 64 characters; this one has ${name.length}.`;
    if (/^[\p{L}\p{N}_.@+-]+$/u.test(name)) return null;
    const suggestion = name.trim().replace(/\s+/g, ".").replace(/[^\p{L}\p{N}_.@+-]/gu, "");
    const hint = suggestion ? `: try ${suggestion}` : "";
    return `A name is letters, digits and . @ + - _ only, without spaces${hint}.`;
  }

  function setupUser() {
    const input = $("user-input");
    let stored = null;
    try {
      stored = localStorage.getItem(USER_KEY);
    } catch {
      stored = null;
    }
    state.user = (stored && stored.trim()) || DEFAULT_USER;
    input.value = state.user;
    const commit = () => {
      const value = input.value.trim();
      if (!value) {
        input.value = state.user;
        return;
      }
      // The server refuses such a name on every command: say so as it is typed.
      const problem = nameProblem(value);
      input.setCustomValidity(problem || "");
      input.title = problem || NAME_HINT;
      if (problem) {
        showError(problem);
      } else if ($("error-text").textContent.startsWith("A name is")) {
        hideError();
      }
      state.user = value;
      try {
        localStorage.setItem(USER_KEY, value);
      } catch {
        /* storage unavailable (private mode): keep it in memory */
      }
    };
    input.addEventListener("input", () => {
      if (input.value.trim()) commit();
    });
    input.addEventListener("change", commit);
    input.addEventListener("blur", commit);
    commit();
  }

  // How the console is served (GET /console/api/session): behind an authenticating proxy the
  // user is the one it signed in and the picker is hidden; with auth off the page warns.
  async function setupSession() {
    let session;
    try {
      session = await api("/session");
    } catch (err) {
      showError(err.message);
      return;
    }
    if (session.warning) {
      $("auth-warning").textContent = `⚠️ ${session.warning}`;
      $("auth-warning").hidden = false;
    }
    if (session.user) {
      state.user = session.user;
      const input = $("user-input");
      input.value = session.user;
      input.hidden = true;
      document.querySelector(".user-picker-label").textContent = "Signed in as:";
      const name = el("span", "signed-in-user", session.user);
      name.id = "signed-in-user";
      name.style.cssText = "color: #fff; font-weight: 600;";
      input.after(name);
    }
  }

  /* ---------------------------------------------------------------------- boot */

  async function main() {
    setupUser();
    await setupSession();
    setupComposer($("command-input"), $("command-form"), () => ({
      pane: "main",
      channel: state.channel,
      thread: null,
    }));
    setupComposer($("thread-input"), $("thread-form"), () => ({
      pane: "thread",
      channel: state.thread ? state.thread.channel : state.channel,
      thread: state.thread ? state.thread.rootId : null,
    }));
    $("thread-close").addEventListener("click", closeThread);
    document.querySelector("#error-banner .banner-close").addEventListener("click", hideError);
    $("incident-pill").addEventListener("click", (event) => {
      event.stopPropagation();
      togglePopover();
    });
    document.addEventListener("click", (event) => {
      if (!$("incident-popover").contains(event.target)) togglePopover(false);
    });
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        togglePopover(false);
        if (state.thread) closeThread();
      }
    });

    setStreamStatus("connecting");
    connectStream();
    await loadChannels();
    await Promise.all([loadChannel(), loadIncidents()]);
    window.addEventListener("hashchange", followHash);
    document.addEventListener("click", (event) => {
      // The same link twice changes no hash: follow it anyway.
      const link = event.target.closest && event.target.closest("a.console-link");
      if (link && link.getAttribute("href") === location.hash) followHash();
    });
    if (location.hash) await followHash();
    $("command-input").focus();
  }

  main();
})();
