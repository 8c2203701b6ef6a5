/*
 * Moodstream dashboard: polls the aggregator's JSON views about once a second and
 * redraws in place (no page reload). Windows follow the newest event time seen.
 *
 * For tests and debugging, window.moodstreamDashboard holds
 *   lastUpdate  epoch ms of the last successful refresh (null before the first)
 *   updates     successful refreshes so far; errors: failed ones
 *   lastError   message of the most recent failure (null once it recovers)
 *   data        the last JSON answers: {seconds, minutes, hashtags, totals, alerts,
 *               languages, trends}
 *               (trends: {hashtag: its per-minute answer} for the pinned hashtags)
 *   charts      the Chart.js instances: {seconds, minutes, trends: {hashtag: chart}}
 *               (empty without Chart.js)
 *   feed        the feed's filters: {label, hashtag} ("" for any)
 *   pinned      the pinned hashtags, in the order they were pinned (kept in
 *               localStorage, at most MAX_PINS)
 *   needsToken  true while the views answer 401 and the token prompt is shown
 *
 * Access token: when the aggregator runs with AGGREGATOR_READ_TOKEN, open
 * /dashboard#token=<token> (the fragment never reaches the server or its logs) or type
 * it into the prompt. It is kept in sessionStorage for this tab and sent as a bearer
 * token on every data request.
 */
(function () {
  "use strict";

  const POLL_MS = 1000;
  const MAX_BACKOFF_MS = 5000;
  const REQUEST_TIMEOUT_MS = 4000;
  const TOP_HASHTAGS = 8;
  const MAX_PINS = 5;
  const TREND_MINUTES = 60;
  const FEED_SIZE = 20;
  const PINS_KEY = "moodstream.pinnedHashtags";
  const ENDPOINTS = {
    seconds: "/v1/sentiment/seconds?last=60",
    minutes: "/v1/sentiment/minutes?last=30",
    hashtags: "/v1/hashtags/minute?n=" + TOP_HASHTAGS,
    totals: "/v1/totals",
    alerts: "/v1/alerts?recent=1",
    languages: "/v1/languages",
  };
  const COLORS = {
    positive: "#2e9e5b",
    neutral: "#9aa4b1",
    negative: "#d6455d",
    mean: "#3b6fd8",
  };

  const state = {
    lastUpdate: null,
    updates: 0,
    errors: 0,
    lastError: null,
    data: {},
    charts: { trends: {} },
    needsToken: false,
    feed: { label: "", hashtag: "" },
    pinned: [],
  };
  window.moodstreamDashboard = state;

  const TOKEN_KEY = "moodstream.readToken";

  function takeTokenFromFragment() {
    const match = /(?:^#|&)token=([^&]*)/.exec(window.location.hash);
    if (!match) return;
    sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(match[1]));
    // Drop the token from the address bar and the history.
    history.replaceState(null, "", window.location.pathname + window.location.search);
  }

  function authHeaders() {
    const token = sessionStorage.getItem(TOKEN_KEY);
    return token ? { Authorization: "Bearer " + token } : {};
  }

  class Unauthorized extends Error {}

  const $ = (id) => document.getElementById(id);
  const fmtInt = new Intl.NumberFormat("en-US");

  // ---- charts -------------------------------------------------------------------------

  function sentimentChart(canvas) {
    const dataset = (label, color) => ({
      type: "bar",
      label: label,
      data: [],
      backgroundColor: color,
      stack: "sentiment",
      order: 1,
      yAxisID: "y",
      borderWidth: 0,
    });
    return new Chart(canvas, {
      data: {
        labels: [],
        datasets: [
          dataset("positive", COLORS.positive),
          dataset("neutral", COLORS.neutral),
          dataset("negative", COLORS.negative),
          {
            type: "line",
            label: "mean score",
            data: [],
            borderColor: COLORS.mean,
            backgroundColor: COLORS.mean,
            yAxisID: "score",
            order: 0, // drawn over the bars
            // Small points so a lone window's mean (neighbours empty) still shows.
            pointRadius: 1.5,
            borderWidth: 2,
            tension: 0.2,
            spanGaps: false,
          },
        ],
      },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        interaction: { mode: "index", intersect: false },
        plugins: {
          legend: {
            position: "top",
            align: "end",
            // Dataset order, not drawing order: positive, neutral, negative, mean.
            labels: { boxWidth: 12, sort: (a, b) => a.datasetIndex - b.datasetIndex },
          },
          tooltip: {
            callbacks: { title: (items) => (items.length ? items[0].label + " UTC" : "") },
          },
        },
        scales: {
          x: {
            stacked: true,
            grid: { display: false },
            ticks: { autoSkip: true, maxRotation: 0, autoSkipPadding: 12 },
          },
          y: {
            stacked: true,
            beginAtZero: true,
            grace: "8%",
            title: { display: true, text: "messages" },
            ticks: { precision: 0 },
          },
          score: {
            position: "right",
            min: -1,
            max: 1,
            title: { display: true, text: "mean score" },
            grid: { drawOnChartArea: false },
          },
        },
      },
    });
  }

  function setupCharts() {
    if (typeof window.Chart === "undefined") {
      $("charts-unavailable").hidden = false;
      return;
    }
    Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    Chart.defaults.color = "#6b7785";
    state.charts.seconds = sentimentChart($("chart-seconds"));
    state.charts.minutes = sentimentChart($("chart-minutes"));
  }

  // ---- pinned hashtag trends -------------------------------------------------------------

  // As the aggregator looks a tag up (it also NFC-normalizes and case-folds).
  function normalTag(text) {
    return text.trim().replace(/^[#\uff03]+/, "").normalize("NFC").toLowerCase();
  }

  function loadPins() {
    try {
      const saved = JSON.parse(localStorage.getItem(PINS_KEY) || "[]");
      state.pinned = Array.isArray(saved)
        ? saved.filter((tag) => typeof tag === "string" && tag).slice(0, MAX_PINS)
        : [];
    } catch (err) {
      state.pinned = []; // a corrupt entry must not stop the dashboard
    }
  }

  function savePins() {
    localStorage.setItem(PINS_KEY, JSON.stringify(state.pinned));
  }

  function pinError(message) {
    $("pin-error").textContent = message || "";
  }

  function pin(text) {
    const tag = normalTag(text);
    if (!tag) return pinError("Type a hashtag to pin.");
    if (state.pinned.includes(tag)) return pinError("#" + tag + " is already pinned.");
    if (state.pinned.length >= MAX_PINS) {
      return pinError("At most " + MAX_PINS + " hashtags: unpin one first.");
    }
    pinError("");
    state.pinned.push(tag);
    savePins();
    drawTrendTiles();
  }

  function unpin(tag) {
    state.pinned = state.pinned.filter((t) => t !== tag);
    savePins();
    pinError("");
    drawTrendTiles();
  }

  // One tile (title, unpin button, chart) per pinned hashtag, in pinning order.
  function drawTrendTiles() {
    const box = $("trends");
    box.dataset.pinned = state.pinned.join(",");
    for (const [tag, chart] of Object.entries(state.charts.trends)) {
      if (!state.pinned.includes(tag)) {
        chart.destroy();
        delete state.charts.trends[tag];
      }
    }
    const kept = new Map([...box.querySelectorAll(".trend")].map((el) => [el.dataset.hashtag, el]));
    const tiles = state.pinned.map((tag) => kept.get(tag) || trendTile(tag));
    if (!tiles.length) {
      const empty = document.createElement("p");
      empty.className = "empty";
      empty.textContent = "No hashtags pinned (up to " + MAX_PINS + ").";
      tiles.push(empty);
    }
    box.replaceChildren(...tiles);
  }

  function trendTile(tag) {
    const tile = document.createElement("figure");
    tile.className = "trend";
    tile.dataset.hashtag = tag;
    tile.dataset.total = "0";
    const caption = document.createElement("figcaption");
    const name = document.createElement("span");
    name.className = "tag";
    name.textContent = "#" + tag; // textContent: hashtags are user text
    const total = document.createElement("span");
    total.className = "trend-total";
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "unpin";
    remove.textContent = "×";
    remove.title = "Unpin #" + tag;
    remove.setAttribute("aria-label", remove.title);
    remove.addEventListener("click", () => unpin(tag));
    caption.append(name, total, remove);
    const chartBox = document.createElement("div");
    chartBox.className = "chart-box small";
    const canvas = document.createElement("canvas");
    canvas.setAttribute("role", "img");
    canvas.setAttribute("aria-label", "Sentiment per minute of #" + tag);
    chartBox.appendChild(canvas);
    tile.append(caption, chartBox);
    if (typeof window.Chart !== "undefined") {
      const chart = sentimentChart(canvas);
      // A tile is small: the big charts above carry the legend and the axis titles.
      chart.options.plugins.legend.display = false;
      chart.options.scales.y.title.display = false;
      chart.options.scales.score.title.display = false;
      state.charts.trends[tag] = chart;
    }
    return tile;
  }

  function drawTrend(tag, answer) {
    const tile = $("trends").querySelector('.trend[data-hashtag="' + CSS.escape(tag) + '"]');
    if (!tile) return; // unpinned while its answer was on the way
    const windows = answer.until ? answer.windows || [] : [];
    const total = windows.reduce((sum, w) => sum + w.total, 0);
    tile.dataset.total = total;
    tile.querySelector(".trend-total").textContent =
      fmtInt.format(total) + " in " + TREND_MINUTES + " min";
    fillChart(state.charts.trends[tag], windows, false);
  }

  function trendPath(tag) {
    return "/v1/hashtags/" + encodeURIComponent(tag) + "/minutes?last=" + TREND_MINUTES;
  }

  // "2025-07-06T13:35:15Z" -> "13:35:15" (seconds) or "13:35" (minutes), in UTC
  // like the event times themselves.
  function clock(iso, withSeconds) {
    const time = iso.slice(11, 19);
    return withSeconds ? time : time.slice(0, 5);
  }

  function drawSeries(name, answer, withSeconds) {
    // Before the first message there is no event time, so no windows worth drawing.
    const windows = answer.until ? answer.windows || [] : [];
    document.querySelector('[data-empty-for="' + name + '"]').hidden = windows.length > 0;
    fillChart(state.charts[name], windows, withSeconds);
  }

  // A sentimentChart redrawn with ``windows`` (no chart without Chart.js: nothing to do).
  function fillChart(chart, windows, withSeconds) {
    if (!chart) return;
    chart.data.labels = windows.map((w) => clock(w.window_start, withSeconds));
    chart.data.datasets[0].data = windows.map((w) => w.positive);
    chart.data.datasets[1].data = windows.map((w) => w.neutral);
    chart.data.datasets[2].data = windows.map((w) => w.negative);
    // No messages in a window means no mean, not a mean of 0: leave a gap.
    chart.data.datasets[3].data = windows.map((w) => (w.total ? w.mean_score : null));
    chart.update("none");
  }

  // ---- totals and hashtags ---------------------------------------------------------------

  function share(part, total) {
    return total ? Math.round((100 * part) / total) + "%" : "";
  }

  function drawTotals(totals) {
    const el = $("totals");
    const total = totals.total || 0;
    el.dataset.positive = totals.positive;
    el.dataset.neutral = totals.neutral;
    el.dataset.negative = totals.negative;
    el.dataset.unscored = totals.unscored || 0;
    el.dataset.total = total;
    el.dataset.meanScore = totals.mean_score;
    el.dataset.late = totals.late;
    $("total-count").textContent = fmtInt.format(total);
    for (const label of ["positive", "neutral", "negative", "unscored"]) {
      $(label + "-count").textContent = fmtInt.format(totals[label] || 0);
      $(label + "-share").textContent = share(totals[label] || 0, total);
    }
    $("unscored-share-all").textContent = share(totals.unscored || 0, total) || "0%";
    $("mean-score").textContent = (totals.mean_score >= 0 ? "+" : "") +
      Number(totals.mean_score || 0).toFixed(2);
    $("late-count").textContent = fmtInt.format(totals.late || 0);
    el.dataset.expired = totals.expired || 0;
    $("expired-count").textContent = fmtInt.format(totals.expired || 0);
    const mark = $("watermark");
    mark.dataset.watermark = totals.watermark || "";
    mark.textContent = totals.watermark
      ? totals.watermark.slice(0, 19).replace("T", " ") + " UTC"
      : "no events yet";
  }

  // One row per language: code, a bar of its messages, the count, and how many of
  // them the model could not read (unscored).
  function drawLanguages(answer) {
    const list = $("languages");
    const languages = answer.languages || [];
    list.dataset.languages = languages.map((entry) => entry.language).join(",");
    const most = languages.length ? languages[0].total : 1;
    const items = languages.map((entry) => {
      const li = document.createElement("li");
      li.dataset.language = entry.language;
      li.dataset.total = entry.total;
      li.dataset.unscored = entry.unscored;
      const code = document.createElement("span");
      code.className = "rank";
      code.textContent = entry.language;
      const mix = document.createElement("span");
      mix.className = "tag mix";
      mix.textContent = entry.unscored === entry.total
        ? "unscored"
        : Math.round(100 * entry.negative / Math.max(1, entry.total - entry.unscored)) +
          " % negative";
      const bar = document.createElement("span");
      bar.className = "bar";
      const fill = document.createElement("span");
      fill.style.width = Math.max(2, (100 * entry.total) / most) + "%";
      if (entry.unscored === entry.total) fill.className = "unscored";
      bar.appendChild(fill);
      const count = document.createElement("span");
      count.className = "count";
      count.textContent = fmtInt.format(entry.total);
      li.append(code, mix, bar, count);
      return li;
    });
    if (!items.length) {
      const empty = document.createElement("li");
      empty.className = "empty";
      empty.textContent = "No messages yet";
      items.push(empty);
    }
    list.replaceChildren(...items);
  }

  function drawHashtags(answer, hasEvents) {
    const list = $("top-hashtags");
    const top = answer.top || [];
    // Before the first event the "newest minute" is the epoch: show no minute at all.
    const minute = hasEvents ? answer.minute || "" : "";
    list.dataset.minute = minute;
    $("hashtag-minute").textContent = minute ? clock(minute, false) + " UTC" : "—";
    const most = top.length ? top[0].count : 1;
    const items = top.map((entry, index) => {
      const li = document.createElement("li");
      li.dataset.hashtag = entry.hashtag;
      li.dataset.count = entry.count;
      const rank = document.createElement("span");
      rank.className = "rank";
      rank.textContent = index + 1 + ".";
      const tag = document.createElement("button");
      tag.type = "button";
      tag.className = "tag";
      tag.textContent = "#" + entry.hashtag; // textContent: hashtags are user text
      tag.title = "Show the feed of " + tag.textContent;
      tag.addEventListener("click", () => filterFeed({ hashtag: entry.hashtag }));
      const pinIt = document.createElement("button");
      pinIt.type = "button";
      pinIt.className = "pin";
      pinIt.textContent = "pin"; // a word, not an emoji: not every system has the font
      pinIt.title = "Pin the trend of " + tag.textContent;
      pinIt.setAttribute("aria-label", pinIt.title);
      pinIt.addEventListener("click", () => pin(entry.hashtag));
      const bar = document.createElement("span");
      bar.className = "bar";
      const fill = document.createElement("span");
      fill.style.width = Math.max(2, (100 * entry.count) / most) + "%";
      bar.appendChild(fill);
      const count = document.createElement("span");
      count.className = "count";
      count.textContent = fmtInt.format(entry.count);
      li.append(rank, tag, bar, count, pinIt);
      return li;
    });
    if (!items.length) {
      const empty = document.createElement("li");
      empty.className = "empty";
      empty.textContent = hasEvents ? "No hashtags in this minute" : "No hashtags yet";
      items.push(empty);
    }
    list.replaceChildren(...items);
  }

  // ---- live feed -------------------------------------------------------------------------

  function feedPath() {
    const params = new URLSearchParams({ limit: String(FEED_SIZE) });
    if (state.feed.label) params.set("label", state.feed.label);
    if (state.feed.hashtag) params.set("hashtag", state.feed.hashtag);
    return "/v1/messages?" + params.toString();
  }

  function filterFeed(change) {
    Object.assign(state.feed, change);
    $("feed-label").value = state.feed.label;
    const chip = $("feed-hashtag");
    chip.dataset.hashtag = state.feed.hashtag;
    chip.querySelector(".chip-text").textContent = "#" + state.feed.hashtag;
    chip.hidden = !state.feed.hashtag;
    $("feed").dataset.filter = feedPath();
  }

  function drawFeed(answer, path) {
    const list = $("feed");
    if (path !== feedPath()) return; // the filters changed while it was on the way
    const messages = answer.messages || [];
    list.dataset.count = messages.length;
    const items = messages.map((message) => {
      const li = document.createElement("li");
      li.dataset.id = message.id;
      li.dataset.label = message.label;
      li.dataset.language = message.language || "und";
      const when = document.createElement("time");
      when.dateTime = message.event_time_iso;
      when.textContent = clock(message.event_time_iso, true);
      const label = document.createElement("span");
      label.className = "label-pill " + message.label;
      label.textContent = message.label;
      const who = document.createElement("span");
      who.className = "user";
      who.textContent = message.user_id || "—"; // textContent: ids and texts are user text
      const text = document.createElement("span");
      text.className = "text";
      text.textContent = message.text;
      text.title = message.text;
      text.lang = message.language && message.language !== "und" ? message.language : "";
      li.append(when, label, who, text);
      return li;
    });
    if (!items.length) {
      const empty = document.createElement("li");
      empty.className = "empty";
      empty.textContent = state.feed.label || state.feed.hashtag
        ? "No messages match these filters" : "No messages yet";
      items.push(empty);
    }
    list.replaceChildren(...items);
  }

  // ---- alerts ----------------------------------------------------------------------------

  const METRIC_NAMES = {
    negative_share: "negative share",
    positive_share: "positive share",
    neutral_share: "neutral share",
    mean_score: "mean score",
  };

  function describeAlert(alert) {
    const share = alert.metric !== "mean_score";
    const shown = (value) => share ? Math.round(value * 100) + "%" : value.toFixed(2);
    return (alert.scope === "all" ? "All messages" : alert.scope) + ": " +
      (METRIC_NAMES[alert.metric] || alert.metric) + " " + shown(alert.value) + " (" +
      alert.comparison + " " + shown(alert.threshold) + ") over the last " +
      alert.window_minutes + " min, " + alert.messages.toLocaleString() + " messages";
  }

  function drawAlerts(answer) {
    const banner = $("alerts");
    const active = answer.active || [];
    banner.dataset.count = active.length;
    banner.hidden = !active.length;
    banner.replaceChildren(...active.map((alert) => {
      const li = document.createElement("li");
      li.dataset.id = alert.id;
      const rule = document.createElement("strong");
      rule.textContent = alert.rule; // textContent: rule names and hashtags come from files
      const what = document.createElement("span");
      what.textContent = " " + describeAlert(alert) + ", since ";
      const since = document.createElement("time");
      since.dateTime = alert.started_at_iso;
      since.textContent = clock(alert.started_at_iso, true);
      li.append(rule, what, since);
      return li;
    }));
  }

  // ---- polling ---------------------------------------------------------------------------

  async function getJSON(path) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), REQUEST_TIMEOUT_MS);
    try {
      const response = await fetch(path, {
        cache: "no-store",
        signal: controller.signal,
        headers: { Accept: "application/json", ...authHeaders() },
      });
      if (response.status === 401) {
        throw new Unauthorized(path.split("?")[0] + " needs an access token");
      }
      if (!response.ok) {
        throw new Error(path.split("?")[0] + " answered HTTP " + response.status);
      }
      return await response.json();
    } catch (err) {
      if (err.name === "AbortError") {
        throw new Error(path.split("?")[0] + " did not answer within " +
          REQUEST_TIMEOUT_MS / 1000 + " s");
      }
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  function showStatus(ok, message) {
    const pill = $("connection-status");
    const banner = $("connection-error");
    if (ok) {
      pill.dataset.state = "live";
      pill.textContent = "Live";
      banner.hidden = true;
      banner.textContent = "";
      return;
    }
    pill.dataset.state = "error";
    pill.textContent = "Reconnecting…";
    const since = state.lastUpdate
      ? " Showing data from " + new Date(state.lastUpdate).toLocaleTimeString() + "."
      : "";
    banner.textContent = "Can't reach the aggregator right now (" + message +
      "). Retrying automatically." + since;
    banner.hidden = false;
  }

  async function refresh() {
    const names = Object.keys(ENDPOINTS);
    const pinned = state.pinned.slice();
    const feedAsked = feedPath();
    const [answers, trends, feed] = await Promise.all([
      Promise.all(names.map((name) => getJSON(ENDPOINTS[name]))),
      Promise.all(pinned.map((tag) => getJSON(trendPath(tag)))),
      getJSON(feedAsked),
    ]);
    const data = { trends: {}, feed: feed };
    names.forEach((name, i) => { data[name] = answers[i]; });
    pinned.forEach((tag, i) => { data.trends[tag] = trends[i]; });
    drawTotals(data.totals);
    drawHashtags(data.hashtags, Boolean(data.totals.watermark));
    drawSeries("seconds", data.seconds, true);
    drawSeries("minutes", data.minutes, false);
    for (const [tag, answer] of Object.entries(data.trends)) drawTrend(tag, answer);
    drawFeed(data.feed, feedAsked);
    drawAlerts(data.alerts);
    drawLanguages(data.languages);
    state.data = data;
    state.lastUpdate = Date.now();
    state.updates += 1;
    state.lastError = null;
    $("last-update").textContent = new Date(state.lastUpdate).toLocaleTimeString();
  }

  function askForToken(ask) {
    state.needsToken = ask;
    $("token-form").hidden = !ask;
    if (ask) {
      const pill = $("connection-status");
      pill.dataset.state = "error";
      pill.textContent = "Token needed";
      $("connection-error").hidden = true;
    }
  }

  let failures = 0;

  async function tick() {
    try {
      await refresh();
      failures = 0;
      askForToken(false);
      showStatus(true);
    } catch (err) {
      if (err instanceof Unauthorized) {
        // Wait for the person to give a token; the form's submit restarts polling.
        state.lastError = err.message;
        askForToken(true);
        return;
      }
      failures += 1;
      state.errors += 1;
      state.lastError = String((err && err.message) || err);
      // "Failed to fetch" is what the browser says when the server is down.
      showStatus(false, state.lastError === "Failed to fetch"
        ? "the server is not answering" : state.lastError);
    }
    // Back off gently while the server is away; one poll in flight at a time.
    const delay = Math.min(POLL_MS * 2 ** Math.max(0, failures - 1), MAX_BACKOFF_MS);
    setTimeout(tick, document.hidden ? Math.max(delay, MAX_BACKOFF_MS) : delay);
  }

  function start() {
    takeTokenFromFragment();
    $("token-form").addEventListener("submit", (event) => {
      event.preventDefault();
      sessionStorage.setItem(TOKEN_KEY, $("token-input").value);
      $("token-input").value = "";
      askForToken(false);
      tick();
    });
    $("feed-label").addEventListener("change", (event) => {
      filterFeed({ label: event.target.value });
    });
    $("feed-hashtag-clear").addEventListener("click", () => filterFeed({ hashtag: "" }));
    filterFeed({});
    $("pin-form").addEventListener("submit", (event) => {
      event.preventDefault();
      pin($("pin-input").value);
      $("pin-input").value = "";
    });
    try {
      setupCharts();
    } catch (err) {
      // A broken chart must not stop the numbers from updating.
      $("charts-unavailable").hidden = false;
      console.error("chart setup failed", err);
    }
    loadPins();
    drawTrendTiles();
    tick();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
