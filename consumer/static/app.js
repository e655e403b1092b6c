// The kafka-notify page: a user's feed, live updates over Server-Sent
// Events, and a form that sends notifications through the producer.
//
// Notification data reaches the DOM only through textContent and
// attributes, never as HTML, so a message is always shown as typed.
"use strict";

(() => {
  const FEED_LIMIT = 50;
  const USER_ID_PATTERN = /^[0-9]{1,18}$/;
  // A feed token is valid for one user, so the page keeps one per user id.
  const TOKEN_STORAGE_PREFIX = "kafka-notify.feed-token.";
  const RECONNECT_MIN_MS = 1000;
  const RECONNECT_MAX_MS = 30000;

  const producerUrl = document
    .querySelector('meta[name="notify-producer-url"]')
    .content.replace(/\/+$/, "");

  const byId = (id) => document.getElementById(id);
  const ui = {
    userForm: byId("user-form"),
    userId: byId("user-id"),
    quickUsers: document.querySelectorAll(".quick-user"),
    tokenPanel: byId("token-panel"),
    tokenForm: byId("token-form"),
    tokenMessage: byId("token-message"),
    tokenInput: byId("feed-token"),
    forgetToken: byId("forget-token"),
    feedSection: byId("feed-section"),
    feedTitle: byId("feed-title"),
    badge: byId("unread-badge"),
    streamStatus: byId("stream-status"),
    markAllRead: byId("mark-all-read"),
    feedMessage: byId("feed-message"),
    feed: byId("feed"),
    showOlder: byId("show-older"),
    template: byId("notification-template"),
    sendForm: byId("send-form"),
    sendFrom: byId("send-from"),
    sendTo: byId("send-to"),
    sendMessage: byId("send-message"),
    sendButton: byId("send-button"),
    apiKey: byId("api-key"),
    sendResult: byId("send-result"),
  };

  // Names of the quick-choice users, by id, for the feed's heading.
  const knownNames = new Map(
    Array.from(ui.quickUsers, (button) => [
      button.dataset.userId,
      button.dataset.userName,
    ]),
  );

  // Feed tokens by user id, for when sessionStorage is disabled.
  const memoryTokens = new Map();
  // The feed on screen. Every asynchronous step checks that its view is
  // still this one, so a late response for another user is dropped.
  let currentView = null;

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }

    get isAuthError() {
      return this.status === 401 || this.status === 403;
    }
  }

  // ---- Requests to the consumer ------------------------------------------

  function userPath(userId, suffix = "") {
    return `/notifications/${encodeURIComponent(userId)}${suffix}`;
  }

  async function readJson(response) {
    try {
      return await response.json();
    } catch {
      return null;
    }
  }

  // Append a full stop unless the text already ends a sentence.
  function asSentence(text) {
    return /[.!?]$/.test(text) ? text : `${text}.`;
  }

  function errorMessage(body, status) {
    if (body && typeof body.message === "string" && body.message) {
      return body.message;
    }
    return `Request failed with HTTP status ${status}.`;
  }

  // Send a request for the feed of the view's user, at userPath(suffix),
  // and return its JSON body. Throws an ApiError with the server's message
  // when the status is not 2xx.
  async function feedRequest(view, suffix, { method = "GET", body } = {}) {
    const headers = { Accept: "application/json" };
    const token = tokenFor(view.userId);
    if (token) {
      headers.Authorization = `Bearer ${token}`;
    }
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
    }

    let response;
    try {
      response = await fetch(userPath(view.userId, suffix), {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: "no-store",
        signal: view.abort.signal,
      });
    } catch (error) {
      if (error.name === "AbortError") {
        throw error;
      }
      throw new ApiError(
        0,
        "The notification service did not respond; check that it is running.",
      );
    }

    const data = await readJson(response);
    if (!response.ok) {
      throw new ApiError(response.status, errorMessage(data, response.status));
    }
    return data || {};
  }

  // ---- The feed -----------------------------------------------------------

  function createView(userId) {
    return {
      userId,
      items: [], // notifications on screen, newest first
      ids: new Set(),
      liveIds: new Set(), // ids that arrived over the stream
      latestCursor: null, // stream position: the newest notification seen
      olderCursor: null, // next_cursor of the oldest page loaded
      unreadCount: 0,
      stream: null,
      reconnectTimer: null,
      reconnectDelay: RECONNECT_MIN_MS,
      abort: new AbortController(),
    };
  }

  function closeView(view) {
    view.abort.abort();
    if (view.stream) {
      view.stream.close();
    }
    clearTimeout(view.reconnectTimer);
  }

  function showUser(userId) {
    if (!USER_ID_PATTERN.test(userId)) {
      ui.userId.value = userId;
      ui.userId.reportValidity();
      return;
    }
    if (currentView) {
      closeView(currentView);
    }
    const view = createView(userId);
    currentView = view;

    ui.userId.value = userId;
    ui.sendTo.value = userId;
    ui.tokenInput.value = tokenFor(userId) || "";
    history.replaceState(null, "", `#user=${userId}`);
    ui.feed.replaceChildren();
    ui.showOlder.hidden = true;
    setFeedTitle(userId, knownNames.get(userId));
    clearUnread(view);
    setStreamState("off", "Live updates off");
    setFeedState("loading", "Loading notifications…");

    loadFeed(view).then((loaded) => {
      if (loaded && view === currentView) {
        openStream(view);
      }
    });
  }

  function setFeedTitle(userId, name) {
    ui.feedTitle.textContent = name
      ? `Notifications for ${name} (${userId})`
      : `Notifications for user ${userId}`;
  }

  function setFeedState(state, message) {
    ui.feedSection.dataset.state = state;
    ui.feedMessage.textContent = message;
    ui.feedMessage.hidden = !message;
  }

  function setStreamState(state, text) {
    ui.streamStatus.dataset.state = state;
    ui.streamStatus.textContent = text;
  }

  function clearUnread(view) {
    view.unreadCount = 0;
    ui.badge.textContent = "";
    ui.markAllRead.disabled = true;
    document.title = "kafka-notify";
  }

  // Show the unread count. A value that is not a count leaves the badge as it is.
  function setUnread(view, count) {
    if (view !== currentView || !Number.isInteger(count) || count < 0) {
      return;
    }
    view.unreadCount = count;
    ui.badge.textContent = `${count} unread`;
    ui.badge.classList.toggle("is-zero", count === 0);
    ui.markAllRead.disabled = count === 0;
    document.title = count > 0 ? `(${count}) kafka-notify` : "kafka-notify";
  }

  function handleFeedError(view, error) {
    if (error.name === "AbortError" || view !== currentView) {
      return;
    }
    if (error.isAuthError) {
      askForToken(error.message);
    }
    if (!view.stream || view.stream.readyState === EventSource.CLOSED) {
      setStreamState("off", "Live updates off");
    }
    setFeedState(
      "error",
      `Could not load the notifications of user ${view.userId}: ${error.message}`,
    );
  }

  // Load the newest notifications and merge them with those already shown.
  // Returns whether the load succeeded.
  async function loadFeed(view) {
    let body;
    try {
      body = await feedRequest(view, `?limit=${FEED_LIMIT}&order=newest`);
    } catch (error) {
      handleFeedError(view, error);
      return false;
    }
    if (view !== currentView) {
      return false;
    }

    const fetched = (Array.isArray(body.notifications) ? body.notifications : [])
      .filter(isNotification);
    const fetchedIds = new Set(fetched.map((n) => n.id));
    // A notification that came over the stream but is missing from this
    // response was stored after the server read the feed, so it is newer.
    const newer = view.items.filter(
      (n) => view.liveIds.has(n.id) && !fetchedIds.has(n.id),
    );
    view.items = [...newer, ...fetched];
    view.ids = new Set(view.items.map((n) => n.id));
    if (!view.latestCursor && view.items.length > 0) {
      view.latestCursor = view.items[0].cursor || null;
    }
    ui.feed.replaceChildren(...view.items.map(renderNotification));
    view.olderCursor = body.next_cursor || null;
    ui.showOlder.hidden = !view.olderCursor;

    const newerUnread = newer.filter((n) => !n.read).length;
    if (Number.isInteger(body.unread_count)) {
      setUnread(view, body.unread_count + newerUnread);
    }
    if (!knownNames.has(view.userId)) {
      const recipient = fetched.find((n) => n.to && typeof n.to.name === "string");
      if (recipient) {
        setFeedTitle(view.userId, recipient.to.name);
      }
    }

    setFeedState("ready", view.items.length === 0 ? "No notifications yet." : "");
    return true;
  }

  // Append the page of notifications older than those shown.
  async function showOlder(view) {
    if (!view || !view.olderCursor) {
      return;
    }
    ui.showOlder.disabled = true;
    let body;
    try {
      const query = new URLSearchParams({
        limit: String(FEED_LIMIT),
        order: "newest",
        cursor: view.olderCursor,
      });
      body = await feedRequest(view, `?${query}`);
    } catch (error) {
      handleFeedError(view, error);
      return;
    } finally {
      ui.showOlder.disabled = false;
    }
    if (view !== currentView) {
      return;
    }

    const older = (Array.isArray(body.notifications) ? body.notifications : [])
      .filter((n) => isNotification(n) && !view.ids.has(n.id));
    for (const notification of older) {
      view.ids.add(notification.id);
      view.items.push(notification);
    }
    ui.feed.append(...older.map(renderNotification));
    view.olderCursor = body.next_cursor || null;
    ui.showOlder.hidden = !view.olderCursor;
    setUnread(view, body.unread_count);
  }

  function isNotification(value) {
    return (
      value !== null &&
      typeof value === "object" &&
      typeof value.id === "string" &&
      typeof value.message === "string"
    );
  }

  function senderName(sender) {
    if (sender && typeof sender.name === "string" && sender.name) {
      return sender.name;
    }
    if (sender && sender.id !== undefined) {
      return `User ${sender.id}`;
    }
    return "Unknown sender";
  }

  function formatTime(timestamp) {
    const date = new Date(timestamp);
    if (typeof timestamp !== "string" || Number.isNaN(date.getTime())) {
      return "";
    }
    return date.toLocaleString(undefined, {
      dateStyle: "medium",
      timeStyle: "medium",
    });
  }

  function renderNotification(notification) {
    const item = ui.template.content.firstElementChild.cloneNode(true);
    const sender = senderName(notification.from);
    item.dataset.id = notification.id;
    item.querySelector(".notification-sender").textContent = sender;
    const time = item.querySelector(".notification-time");
    time.textContent = formatTime(notification.created_at);
    if (time.textContent) {
      time.dateTime = notification.created_at;
      time.title = notification.created_at;
    }
    item.querySelector(".notification-message").textContent = notification.message;

    const button = item.querySelector(".mark-read");
    button.setAttribute("aria-label", `Mark the notification from ${sender} read`);
    button.addEventListener("click", () => {
      markRead(currentView, [notification.id], button);
    });
    applyReadState(item, notification.read === true);
    return item;
  }

  function applyReadState(item, read) {
    item.classList.toggle("is-unread", !read);
    item.classList.toggle("is-read", read);
    item.querySelector(".notification-state").textContent = read ? "Read" : "Unread";
    item.querySelector(".mark-read").hidden = read;
  }

  function findItem(id) {
    for (const item of ui.feed.children) {
      if (item.dataset.id === id) {
        return item;
      }
    }
    return null;
  }

  function showRead(view, ids) {
    for (const notification of view.items) {
      if (ids.has(notification.id)) {
        notification.read = true;
        const item = findItem(notification.id);
        if (item) {
          applyReadState(item, true);
        }
      }
    }
  }

  async function markRead(view, ids, button) {
    if (!view) {
      return;
    }
    button.disabled = true;
    try {
      const body = await feedRequest(view, "/read", {
        method: "POST",
        body: { ids },
      });
      if (view !== currentView) {
        return;
      }
      const hadFocus = document.activeElement === button;
      showRead(view, new Set(ids));
      setUnread(view, body.unread_count);
      if (hadFocus) {
        // The button is now hidden, so keep keyboard focus on its notification.
        const item = button.closest(".notification");
        item.tabIndex = -1;
        item.focus();
      }
    } catch (error) {
      handleActionError(view, error);
    } finally {
      button.disabled = false;
    }
  }

  async function markAllRead(view) {
    if (!view) {
      return;
    }
    // Only the notifications on screen when the request leaves are shown
    // as read. One that arrives meanwhile keeps the state the server sends.
    const onScreenIds = new Set(view.ids);
    ui.markAllRead.disabled = true;
    try {
      const body = await feedRequest(view, "/read", {
        method: "POST",
        body: { all: true },
      });
      if (view !== currentView) {
        return;
      }
      showRead(view, onScreenIds);
      setUnread(view, body.unread_count);
    } catch (error) {
      handleActionError(view, error);
      ui.markAllRead.disabled = view.unreadCount === 0;
    }
  }

  function handleActionError(view, error) {
    if (error.name === "AbortError" || view !== currentView) {
      return;
    }
    if (error.isAuthError) {
      askForToken(error.message);
    }
    ui.feedMessage.textContent = `Marking as read failed: ${error.message}`;
    ui.feedMessage.hidden = false;
  }

  // ---- Live updates -------------------------------------------------------

  function openStream(view) {
    const params = new URLSearchParams();
    if (view.latestCursor) {
      params.set("last_event_id", view.latestCursor);
    }
    // An EventSource cannot set headers, so the token goes in the query.
    const token = tokenFor(view.userId);
    if (token) {
      params.set("token", token);
    }
    const query = params.toString();
    const url = userPath(view.userId, "/stream") + (query ? `?${query}` : "");
    const openedWithoutCursor = !view.latestCursor;

    const source = new EventSource(url);
    view.stream = source;
    setStreamState("connecting", "Connecting to live updates…");

    source.addEventListener("open", async () => {
      if (view !== currentView) {
        return;
      }
      view.reconnectDelay = RECONNECT_MIN_MS;
      if (openedWithoutCursor) {
        // Without a cursor the stream starts now, so a notification stored
        // between the feed request and this moment would be missed.
        await loadFeed(view);
      }
      if (view === currentView && source.readyState === EventSource.OPEN) {
        setStreamState("live", "Live updates on");
      }
    });

    source.addEventListener("notification", (event) => {
      if (view !== currentView) {
        return;
      }
      let notification;
      try {
        notification = JSON.parse(event.data);
      } catch {
        console.warn("Ignored a stream event whose data is not JSON");
        return;
      }
      if (!isNotification(notification)) {
        console.warn("Ignored a stream event that is not a notification");
        return;
      }
      view.latestCursor = notification.cursor || event.lastEventId || view.latestCursor;
      addLiveNotification(view, notification);
    });

    // The browser would reconnect by itself, but to the same URL, whose
    // cursor is stale by then. Reopening with the latest cursor skips and
    // repeats nothing.
    source.addEventListener("error", () => {
      if (view !== currentView) {
        return;
      }
      source.close();
      scheduleReconnect(view);
    });
  }

  function scheduleReconnect(view) {
    const delay = view.reconnectDelay;
    view.reconnectDelay = Math.min(delay * 2, RECONNECT_MAX_MS);
    setStreamState(
      "reconnecting",
      `Live updates interrupted; retrying in ${Math.round(delay / 1000)} s`,
    );

    view.reconnectTimer = setTimeout(async () => {
      // An EventSource does not expose the status of a rejected stream, so
      // a plain request finds out whether retrying can help. It also
      // catches up on reads made elsewhere meanwhile.
      try {
        const body = await feedRequest(view, "/unread_count");
        setUnread(view, body.unread_count);
      } catch (error) {
        if (error.name === "AbortError" || view !== currentView) {
          return;
        }
        if (error.status >= 400 && error.status < 500) {
          handleFeedError(view, error);
          return;
        }
      }
      if (view === currentView) {
        openStream(view);
      }
    }, delay);
  }

  function addLiveNotification(view, notification) {
    if (view.ids.has(notification.id)) {
      return;
    }
    view.ids.add(notification.id);
    view.liveIds.add(notification.id);
    view.items.unshift(notification);

    const item = renderNotification(notification);
    item.classList.add("is-new");
    ui.feed.prepend(item);
    if (notification.read !== true) {
      setUnread(view, view.unreadCount + 1);
    }
    if (ui.feedSection.dataset.state === "ready") {
      setFeedState("ready", "");
    }
  }

  // ---- Feed token ---------------------------------------------------------

  function tokenFor(userId) {
    try {
      return sessionStorage.getItem(TOKEN_STORAGE_PREFIX + userId) || null;
    } catch {
      return memoryTokens.get(userId) || null; // sessionStorage disabled
    }
  }

  function storeToken(userId, token) {
    try {
      if (token) {
        sessionStorage.setItem(TOKEN_STORAGE_PREFIX + userId, token);
      } else {
        sessionStorage.removeItem(TOKEN_STORAGE_PREFIX + userId);
      }
    } catch {
      // sessionStorage disabled: keep the token until the page closes.
      if (token) {
        memoryTokens.set(userId, token);
      } else {
        memoryTokens.delete(userId);
      }
    }
  }

  function askForToken(message) {
    const userId = currentView.userId;
    ui.tokenPanel.open = true;
    ui.tokenMessage.textContent = tokenFor(userId)
      ? `${asSentence(message)} The service rejected the token of user ${userId}. Enter another one.`
      : `${asSentence(message)} Enter the feed token of user ${userId}.`;
    ui.tokenInput.focus();
  }

  function useToken(token) {
    if (!currentView) {
      ui.tokenMessage.textContent = "Choose a user first: a feed token is valid for one user.";
      return;
    }
    const userId = currentView.userId;
    storeToken(userId, token || null);
    ui.tokenMessage.textContent = token
      ? `The page sends this token with the feed requests of user ${userId} in this tab.`
      : `No token: the page sends the feed requests of user ${userId} without one.`;
    showUser(userId);
  }

  // ---- Sending ------------------------------------------------------------

  function showSendResult(state, message) {
    ui.sendResult.dataset.state = state;
    ui.sendResult.textContent = message;
  }

  async function sendNotification() {
    const payload = {
      // Ids stay strings: the producer accepts digit strings, and a number
      // over 2^53 would lose digits in JavaScript.
      fromID: ui.sendFrom.value.trim(),
      toID: ui.sendTo.value.trim(),
      message: ui.sendMessage.value,
    };
    const headers = {
      "Content-Type": "application/json",
      Accept: "application/json",
    };
    const apiKey = ui.apiKey.value.trim();
    if (apiKey) {
      headers.Authorization = `Bearer ${apiKey}`;
    }

    ui.sendButton.disabled = true;
    showSendResult("pending", "Sending…");
    let response;
    try {
      response = await fetch(`${producerUrl}/send`, {
        method: "POST",
        headers,
        body: JSON.stringify(payload),
        mode: "cors",
        credentials: "omit",
      });
    } catch {
      showSendResult(
        "error",
        `Could not reach the producer at ${producerUrl}. Check that it is ` +
          `running and that its NOTIFY_CORS_ORIGINS allows ${location.origin}.`,
      );
      return;
    } finally {
      ui.sendButton.disabled = false;
    }

    const body = await readJson(response);
    if (response.ok && body) {
      const id = typeof body.id === "string" ? ` (id ${body.id})` : "";
      showSendResult("ok", `${body.message || "Sent."}${id}`);
      ui.sendMessage.value = "";
      return;
    }
    let message = `${errorMessage(body, response.status)} (HTTP ${response.status})`;
    if (response.status === 401 && !apiKey) {
      message += '. The producer requires an API key: enter it under "Producer API key".';
    }
    showSendResult("error", message);
  }

  // ---- Wiring ---------------------------------------------------------------

  function userIdFromHash() {
    const match = /^#user=([0-9]{1,18})$/.exec(location.hash);
    return match ? match[1] : null;
  }

  ui.userForm.addEventListener("submit", (event) => {
    event.preventDefault();
    showUser(ui.userId.value.trim());
  });

  for (const button of ui.quickUsers) {
    button.addEventListener("click", () => showUser(button.dataset.userId));
  }

  ui.markAllRead.addEventListener("click", () => markAllRead(currentView));
  ui.showOlder.addEventListener("click", () => showOlder(currentView));

  ui.tokenForm.addEventListener("submit", (event) => {
    event.preventDefault();
    useToken(ui.tokenInput.value.trim());
  });

  ui.forgetToken.addEventListener("click", () => {
    ui.tokenInput.value = "";
    useToken(null);
  });

  ui.sendForm.addEventListener("submit", (event) => {
    event.preventDefault();
    sendNotification();
  });

  window.addEventListener("hashchange", () => {
    const userId = userIdFromHash();
    if (userId && (!currentView || currentView.userId !== userId)) {
      showUser(userId);
    }
  });

  const initialUser = userIdFromHash();
  if (initialUser) {
    showUser(initialUser);
  }
})();
