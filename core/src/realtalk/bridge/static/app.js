// realtalk playground: microphone -> /v1/graph/live -> speaker, with transcripts, an
// event timeline, level meters, counters, latency and reconnects. Plain JS, no build
// step, nothing loaded from elsewhere. State for tests and debugging: window.realtalk.
"use strict";

(() => {
  const INPUT_RATE = 16000;
  const SPEECH_RMS = 0.015; // a mic chunk louder than this (of full scale) is speech
  const RETRY_CODES = new Set([1006, 1012, 1013]); // docs/bridge.md: reconnect for these
  const MAX_RETRIES = 5;
  const MAX_ROWS = 3000;
  const ROW_CHARS = 240; // longer texts are cut in the timeline (whole in the tooltip)
  const $ = (id) => document.getElementById(id);
  const now = () => performance.now();

  const state = {
    status: "disconnected",
    phase: "idle", // idle | connecting | live | closing | reconnecting | ended | error
    threadId: null,
    transcripts: [], // {role, text, final}
    toolCalls: [], // {id, name, args, done, result, error, ms}
    events: [], // every JSON event, in order
    timeline: [], // {t, type, text, cls}
    hidden: new Set(), // event types filtered out of the timeline
    errors: [],
    fatal: null, // the fatal error event that ended the session, if any
    interruptions: 0,
    sentAudioBytes: 0,
    sentFrames: 0,
    receivedAudioBytes: 0,
    receivedAudioSeconds: 0,
    receivedFrames: 0,
    micLevel: 0, // RMS of full scale, decaying
    micPeak: 0,
    speakerLevel: 0,
    speakerPeak: 0,
    latencies: [], // ms from the end of user speech or text to the first model audio
    serverLatencies: [], // the same, as the runtime measured it (metrics events), in ms
    reconnects: { provider: 0, bridge: 0 },
    closeCode: null,
    closeReason: null,
  };
  const waiters = []; // {pred, resolve}
  let ends = []; // the __closed pseudo events since the last connect, for until()
  let ws = null;
  let t0 = null; // performance.now() of the first connect: the timeline's zero
  let outputRate = 24000;
  let player = null; // {ctx, next, sources, analyser, buf}
  let mic = null; // {ctx, stream, node}
  let micChunkMax = 0; // loudest mic chunk since the last tick
  let hangingUp = false;
  let retries = 0;
  let retryTimer = null;
  let userEndAt = null; // last user speech chunk or text, while a reply is awaited
  let modelSpeaking = false; // first audio of a reply seen, turn not complete yet
  let audioRow = null; // the timeline row that aggregates consecutive audio frames
  const toolStarted = new Map(); // call id -> performance.now()

  // ------------------------------------------------------------------ UI helpers

  function setStatus(text, phase) {
    state.status = text;
    state.phase = phase;
    const el = $("status");
    el.textContent = text;
    el.className = "status " + phase;
  }

  function secs(ms) {
    return (ms / 1000).toFixed(3);
  }

  function clip(text) {
    return text.length > ROW_CHARS ? text.slice(0, ROW_CHARS) + "…" : text;
  }

  function addRow(type, text, cls) {
    const t = t0 === null ? 0 : now() - t0;
    const row = { t, type, text, cls: cls || "" };
    state.timeline.push(row);
    const li = document.createElement("li");
    li.dataset.type = type;
    if (row.cls) li.className = row.cls;
    li.title = new Date().toISOString() + (text.length > ROW_CHARS ? "\n" + text : "");
    const time = document.createElement("span");
    time.className = "t";
    time.textContent = "+" + secs(t);
    const kind = document.createElement("span");
    kind.className = "k";
    kind.textContent = type;
    const body = document.createElement("span");
    body.className = "x";
    body.textContent = clip(text);
    li.append(time, kind, body);
    li.hidden = state.hidden.has(type);
    row.el = li;
    const list = $("timeline");
    const atBottom = list.scrollTop + list.clientHeight >= list.scrollHeight - 4;
    list.append(li);
    if (state.timeline.length > MAX_ROWS) state.timeline.shift().el.remove();
    if (atBottom) list.scrollTop = list.scrollHeight;
    addFilter(type);
    if (type !== "audio") audioRow = null;
    return row;
  }

  function setRowText(row, text) {
    row.text = text;
    row.el.querySelector(".x").textContent = clip(text);
  }

  function addFilter(type) {
    const box = $("filters");
    let label = box.querySelector(`label[data-type="${type}"]`);
    if (!label) {
      label = document.createElement("label");
      label.dataset.type = type;
      const input = document.createElement("input");
      input.type = "checkbox";
      input.checked = !state.hidden.has(type);
      input.onchange = () => setFilter(type, input.checked);
      label.append(input, document.createTextNode(""));
      box.append(label);
    }
    const count = state.timeline.filter((r) => r.type === type).length;
    label.lastChild.textContent = `${type} ${count}`;
    label.classList.toggle("off", state.hidden.has(type));
  }

  function setFilter(type, shown) {
    // Show or hide one event type in the timeline (the checkboxes above it).
    if (shown) state.hidden.delete(type);
    else state.hidden.add(type);
    for (const row of state.timeline) if (row.type === type) row.el.hidden = !shown;
    const label = $("filters").querySelector(`label[data-type="${type}"]`);
    if (label) {
      label.classList.toggle("off", !shown);
      label.querySelector("input").checked = shown;
    }
  }

  function render() {
    const list = $("transcript");
    list.replaceChildren(
      ...state.transcripts.map((t) => {
        const li = document.createElement("li");
        li.className = t.role + (t.final ? "" : " partial");
        li.textContent = t.text;
        return li;
      })
    );
    list.scrollTop = list.scrollHeight;
    const tools = $("toolcalls");
    tools.replaceChildren(
      ...state.toolCalls.map((c) => {
        const li = document.createElement("li");
        const outcome = c.error ? "error: " + c.error : c.done ? JSON.stringify(c.result) : "…";
        li.textContent = `${c.name}(${JSON.stringify(c.args)}) → ${outcome}`;
        if (c.ms !== null) {
          const ms = document.createElement("span");
          ms.className = "ms";
          ms.textContent = `  ${Math.round(c.ms)} ms`;
          li.append(ms);
        }
        return li;
      })
    );
  }

  function db(level) {
    // Full-scale RMS -> bar width: -60 dBFS is empty, 0 dBFS full.
    if (level <= 0) return 0;
    return Math.max(0, Math.min(100, ((20 * Math.log10(level) + 60) / 60) * 100));
  }

  function tick() {
    // The live figures, refreshed continuously: audio flows between events too.
    state.micLevel = Math.max(micChunkMax, state.micLevel * 0.8);
    micChunkMax = 0;
    if (player && player.analyser) {
      player.analyser.getFloatTimeDomainData(player.buf);
      let sum = 0;
      for (const x of player.buf) sum += x * x;
      const rms = Math.sqrt(sum / player.buf.length);
      state.speakerLevel = Math.max(rms, state.speakerLevel * 0.8);
      state.speakerPeak = Math.max(state.speakerPeak, rms);
    }
    if (state.micLevel < 1e-4) state.micLevel = 0;
    if (state.speakerLevel < 1e-4) state.speakerLevel = 0;
    $("micbar").style.width = db(state.micLevel).toFixed(1) + "%";
    $("speakerbar").style.width = db(state.speakerLevel).toFixed(1) + "%";
    const sent = state.sentAudioBytes / 2 / INPUT_RATE;
    $("sent").textContent = `${sent.toFixed(1)} s · ${state.sentFrames} frames`;
    $("received").textContent =
      `${state.receivedAudioSeconds.toFixed(1)} s · ${state.receivedFrames} frames`;
    const lat = state.latencies;
    const server = state.serverLatencies;
    $("latency").textContent = lat.length
      ? `${Math.round(lat.at(-1))} ms (avg ${Math.round(lat.reduce((a, b) => a + b, 0) / lat.length)} ms, ${lat.length} turn${lat.length > 1 ? "s" : ""})` +
        (server.length ? ` · server ${Math.round(server.at(-1))} ms` : "")
      : "–";
    const r = state.reconnects;
    $("reconnects").textContent = `${r.provider + r.bridge}` +
      (r.provider + r.bridge ? ` (provider ${r.provider}, bridge ${r.bridge})` : "");
    if (waiters.length) notify({ type: "__levels", mic: state.micLevel, speaker: state.speakerLevel });
  }

  function addTranscript(role, text, finished) {
    // Fragments (finished=false) append to the open line; finished replaces it whole.
    let open = state.transcripts.findLast((t) => t.role === role && !t.final);
    if (!open) {
      open = { role, text: "", final: false };
      state.transcripts.push(open);
    }
    if (finished) {
      open.text = text;
      open.final = true;
    } else {
      open.text += text;
    }
  }

  function enable(connected) {
    $("connect").disabled = connected;
    $("newthread").disabled = connected;
    $("thread").disabled = connected;
    $("hangup").disabled = !connected;
    $("mic").disabled = !connected;
    $("text").disabled = !connected;
    $("send").disabled = !connected;
  }

  function notify(event) {
    for (let i = waiters.length - 1; i >= 0; i--) {
      if (waiters[i].pred(event)) {
        waiters[i].resolve(event);
        waiters.splice(i, 1);
      }
    }
  }

  // ------------------------------------------------------------------ playback

  function ensurePlayer() {
    if (!player) {
      const ctx = new AudioContext();
      const analyser = ctx.createAnalyser();
      analyser.fftSize = 1024;
      analyser.connect(ctx.destination);
      player = { ctx, next: 0, sources: new Set(), analyser, buf: new Float32Array(analyser.fftSize) };
    }
    if (player.ctx.state === "suspended") player.ctx.resume();
    return player;
  }

  function play(buffer) {
    const pcm = new Int16Array(buffer);
    state.receivedAudioBytes += buffer.byteLength;
    state.receivedAudioSeconds += pcm.length / outputRate;
    state.receivedFrames += 1;
    if (!modelSpeaking) {
      modelSpeaking = true;
      if (userEndAt !== null) {
        const ms = now() - userEndAt;
        state.latencies.push(ms);
        userEndAt = null;
        addRow("latency", `first model audio ${Math.round(ms)} ms after the end of your turn`, "good");
      }
    }
    const seconds = pcm.length / outputRate;
    if (audioRow) {
      audioRow.frames += 1;
      audioRow.seconds += seconds;
      setRowText(audioRow, `${audioRow.frames} frames · ${audioRow.seconds.toFixed(2)} s of model audio`);
    } else {
      audioRow = addRow("audio", `1 frame · ${seconds.toFixed(2)} s of model audio`, "dim");
      Object.assign(audioRow, { frames: 1, seconds });
    }
    const p = ensurePlayer();
    const audio = p.ctx.createBuffer(1, pcm.length, outputRate);
    const data = audio.getChannelData(0);
    for (let i = 0; i < pcm.length; i++) data[i] = pcm[i] / 0x8000;
    const source = p.ctx.createBufferSource();
    source.buffer = audio;
    source.connect(p.analyser);
    const start = Math.max(p.ctx.currentTime + 0.02, p.next);
    source.start(start);
    p.next = start + audio.duration;
    p.sources.add(source);
    source.onended = () => p.sources.delete(source);
    notify({ type: "__audio", bytes: state.receivedAudioBytes });
  }

  function flushPlayback() {
    // Barge-in: the user spoke over the model; drop everything scheduled.
    if (!player) return;
    for (const s of player.sources) {
      try { s.stop(); } catch (_) { /* already stopped */ }
    }
    player.sources.clear();
    player.next = 0;
  }

  // ------------------------------------------------------------------ protocol

  function describe(event) {
    // One timeline line per event: [text, class].
    switch (event.type) {
      case "session_started":
        return [`thread ${event.thread_id}`, "good"];
      case "audio_format":
        return [`${event.sample_rate} Hz ${event.encoding}`, "dim"];
      case "input_transcript":
      case "output_transcript":
        return [(event.finished ? "✓ " : "") + event.text, event.finished ? "" : "dim"];
      case "text_delta":
        return [event.text, "dim"];
      case "tool_call":
        return [`${event.name}(${JSON.stringify(event.args)})`, ""];
      case "tool_call_cancelled":
        return [`cancelled ${event.ids.join(", ")}`, "warn"];
      case "interrupted":
        return ["you spoke over the model: playback flushed", "warn"];
      case "session_update":
        return [event.resumable ? "new resumption handle" : "session not resumable", "dim"];
      case "go_away":
        return [
          "provider will rotate the connection" +
            (event.time_left !== null && event.time_left !== undefined ? ` in ${event.time_left} s` : ""),
          "warn",
        ];
      case "reconnected":
        return [
          (event.resumed ? "resumed the provider session" : "new provider session, reseeded from the transcript") +
            ` (attempt ${event.attempt})`,
          "good",
        ];
      case "usage":
        return [`tokens: prompt ${event.prompt_tokens ?? "?"}, response ${event.response_tokens ?? "?"}, total ${event.total_tokens ?? "?"}`, "dim"];
      case "error":
        return [`${event.code}: ${event.message}${event.fatal ? " (fatal)" : ""}`, event.fatal ? "bad" : "warn"];
      case "input_dropped":
        return [`${event.audio_chunks} audio chunks (${event.audio_bytes} bytes) dropped: ${event.reason}`, "warn"];
      case "metrics": {
        // The runtime's own figures of the turn (measured on the server).
        const parts = [`turn ${event.turn}`];
        if (event.time_to_first_audio !== null && event.time_to_first_audio !== undefined) {
          parts.push(`first audio ${Math.round(event.time_to_first_audio * 1000)} ms after ${event.input_end}`);
        }
        for (const c of event.tool_calls || []) parts.push(`${c.name} ${Math.round(c.duration * 1000)} ms (${c.outcome})`);
        for (const r of event.reconnects || []) parts.push(`${r.cause} gap ${Math.round(r.gap * 1000)} ms`);
        if (event.interrupted) parts.push("interrupted");
        if (event.output_tokens !== null && event.output_tokens !== undefined) parts.push(`${event.input_tokens ?? "?"}/${event.output_tokens} tokens`);
        return [parts.join(" · "), "dim"];
      }
      case "session_metrics":
        return [
          `${event.turns} turns in ${event.duration.toFixed(1)} s, ${event.reconnects.length} reconnects, ` +
            `${event.tool_calls.length} tool calls, ${event.interruptions} interruptions`,
          "dim",
        ];
      case "session_ended":
        return [event.reason || "", ""];
      default:
        return ["", ""];
    }
  }

  function onEvent(event) {
    state.events.push(event);
    const [text, cls] = describe(event);
    const row = addRow(event.type, text, cls);
    switch (event.type) {
      case "session_started":
        state.threadId = event.thread_id;
        $("thread").value = event.thread_id;
        $("threadhint").textContent = "";
        try { localStorage.setItem("realtalk.thread", event.thread_id); } catch (_) {}
        retries = 0;
        setStatus("live", "live");
        break;
      case "audio_format":
        outputRate = event.sample_rate;
        break;
      case "input_transcript":
        addTranscript("user", event.text, event.finished);
        break;
      case "output_transcript":
        addTranscript("assistant", event.text, event.finished);
        break;
      case "text_delta":
        addTranscript("assistant", event.text, false);
        break;
      case "turn_complete":
        for (const t of state.transcripts) if (t.role === "assistant") t.final = true;
        modelSpeaking = false;
        break;
      case "interrupted":
        state.interruptions += 1;
        modelSpeaking = false;
        flushPlayback();
        break;
      case "tool_call":
        toolStarted.set(event.id, now());
        row.callId = event.id;
        state.toolCalls.push({ id: event.id, name: event.name, args: event.args, done: false, ms: null });
        break;
      case "tool_result": {
        const started = toolStarted.get(event.id);
        const ms = started === undefined ? null : now() - started;
        const call = state.toolCalls.find((c) => c.id === event.id);
        if (call) Object.assign(call, { result: event.result, error: event.error, done: true, ms });
        const outcome = event.error ? "error: " + event.error : JSON.stringify(event.result);
        const took = ms === null ? "" : ` in ${Math.round(ms)} ms`;
        setRowText(row, `${event.name} → ${outcome}${took}`);
        if (event.error) row.el.className = "bad";
        const callRow = state.timeline.find((r) => r.callId === event.id);
        if (callRow && ms !== null) setRowText(callRow, `${callRow.text}  ran ${Math.round(ms)} ms`);
        break;
      }
      case "reconnected":
        state.reconnects.provider += 1;
        break;
      case "metrics":
        if (event.time_to_first_audio !== null && event.time_to_first_audio !== undefined) {
          state.serverLatencies.push(event.time_to_first_audio * 1000);
        }
        break;
      case "error":
        state.errors.push(event);
        state.transcripts.push({ role: "system", text: `${event.code}: ${event.message}`, final: true });
        if (event.fatal) {
          state.fatal = event;
          setStatus(`error: ${event.code}`, "error");
        }
        break;
      default:
        break;
    }
    render();
    tick();
    notify(event);
  }

  function connect(options = {}) {
    if (ws) return Promise.resolve(state.threadId);
    clearTimeout(retryTimer);
    retryTimer = null;
    const token = options.token ?? $("token").value.trim();
    const threadId = options.threadId ?? $("thread").value.trim();
    const url = options.url || `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/v1/graph/live`;
    // Browsers cannot set headers on a WebSocket: the token rides in the subprotocol list.
    const protocols = ["realtalk.v1"];
    if (token) protocols.push("bearer." + token);
    if (t0 === null) t0 = now();
    state.closeCode = null;
    state.closeReason = null;
    state.fatal = null;
    hangingUp = false;
    const retrying = options.retry === true;
    if (!retrying) {
      retries = 0;
      ends = [];
    }
    setStatus(retrying ? `reconnecting (attempt ${retries})` : "connecting", retrying ? "reconnecting" : "connecting");
    addRow("client", `${retrying ? "reconnecting" : "connecting"} to ${url}` +
      (threadId ? ` (thread ${threadId})` : " (new thread)"), "client");
    ensurePlayer(); // inside the click that connects: browsers allow audio after a gesture
    const socket = new WebSocket(url, protocols);
    ws = socket;
    socket.binaryType = "arraybuffer";
    const first = { input_sample_rate: INPUT_RATE, ...(options.overrides || {}) };
    if (threadId) first.thread_id = threadId;
    let opened = false;
    socket.onopen = () => {
      opened = true;
      socket.send(JSON.stringify(first));
      enable(true);
      if (retrying) state.reconnects.bridge += 1;
    };
    socket.onmessage = (msg) => {
      if (typeof msg.data === "string") onEvent(JSON.parse(msg.data));
      else play(msg.data);
    };
    socket.onclose = (ev) => onClose(socket, ev, opened, retrying);
    return waitFor((e) => e.type === "session_started" || e.type === "__closed").then(() => state.threadId);
  }

  function onClose(socket, ev, opened, retrying) {
    if (ws !== socket) return;
    ws = null;
    state.closeCode = ev.code;
    state.closeReason = ev.reason;
    enable(false);
    modelSpeaking = false;
    const why = `${ev.code}${ev.reason ? " " + ev.reason : ""}`;
    const retryable = !hangingUp && RETRY_CODES.has(ev.code) && (opened || retrying);
    if (retryable && retries < MAX_RETRIES) {
      // 1012: the server drains; reconnect (to another instance) with the same thread.
      retries += 1;
      const delay = Math.min(4000, 250 * 2 ** (retries - 1)) + Math.random() * 250;
      const what = ev.code === 1012 ? "server restarting" : ev.code === 1013 ? "server busy" : "connection lost";
      addRow("client", `closed ${why}: ${what}, reconnecting in ${Math.round(delay)} ms`, "warn");
      setStatus(`reconnecting: ${what}`, "reconnecting");
      notify({ type: "__reconnecting", code: ev.code, attempt: retries });
      retryTimer = setTimeout(() => {
        retryTimer = null;
        connect({ threadId: state.threadId ?? undefined, retry: true });
      }, delay);
      $("hangup").disabled = false; // hang up cancels the reconnect
      return;
    }
    stopMic({ sendEnd: false });
    if (retryable) {
      addRow("client", `closed ${why}: gave up after ${retries} reconnects`, "bad");
      setStatus(`error: could not reconnect (${why})`, "error");
    } else if (state.fatal) {
      const f = state.fatal;
      addRow("client", `closed ${why} after a fatal error`, "bad");
      setStatus(`error: ${f.code}: ${f.message}`, "error");
    } else if (ev.code === 1000) {
      addRow("client", `closed ${why}`, "client");
      setStatus(hangingUp ? "ended" : `ended by the server (${ev.reason || "no reason"})`, "ended");
    } else {
      addRow("client", `closed ${why}`, "bad");
      setStatus(`error: closed ${why}`, "error");
    }
    hangingUp = false;
    const closed = { type: "__closed", code: ev.code };
    ends.push(closed);
    notify(closed);
  }

  function hangUp() {
    // The input ends; the reply in flight still streams, then the server closes.
    if (!ws && retryTimer !== null) {
      // Waiting to reconnect: stay disconnected instead.
      clearTimeout(retryTimer);
      retryTimer = null;
      stopMic({ sendEnd: false });
      addRow("client", "hang up: reconnecting cancelled", "client");
      setStatus("ended", "ended");
      $("hangup").disabled = true;
      notify({ type: "__closed", code: state.closeCode });
      return;
    }
    if (!ws) return;
    hangingUp = true;
    setStatus("closing", "closing");
    stopMic(); // flushes the last utterance (audio_stream_end) before the input ends
    if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: "close" }));
    addRow("client", "hang up: input closed, the reply in flight may finish", "client");
    $("hangup").disabled = true;
  }

  function sendText(text) {
    if (!ws || !text) return;
    ws.send(JSON.stringify({ type: "text", text }));
    state.transcripts.push({ role: "user", text, final: true });
    userEndAt = now();
    addRow("client", `sent text: ${text}`, "client");
    render();
  }

  function newThread() {
    // Forget the stored thread: the next session starts a new one.
    if (ws) return;
    $("thread").value = "";
    state.threadId = null;
    try { localStorage.removeItem("realtalk.thread"); } catch (_) {}
    $("threadhint").textContent = "the next session starts a new thread";
  }

  // ------------------------------------------------------------------ microphone

  function onMicChunk(data) {
    if (!ws || ws.readyState !== WebSocket.OPEN) return; // reconnecting: not sent
    ws.send(data);
    state.sentAudioBytes += data.byteLength;
    state.sentFrames += 1;
    const pcm = new Int16Array(data);
    let sum = 0;
    for (let i = 0; i < pcm.length; i++) sum += pcm[i] * pcm[i];
    const rms = Math.sqrt(sum / Math.max(1, pcm.length)) / 0x8000;
    micChunkMax = Math.max(micChunkMax, rms);
    state.micPeak = Math.max(state.micPeak, rms);
    if (rms >= SPEECH_RMS && !modelSpeaking) userEndAt = now(); // still talking
    notify({ type: "__sent", bytes: state.sentAudioBytes });
  }

  async function startMic() {
    if (mic) return;
    const stream = await navigator.mediaDevices.getUserMedia({
      audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true },
    });
    const ctx = new AudioContext();
    await ctx.audioWorklet.addModule("/static/mic-worklet.js");
    const source = ctx.createMediaStreamSource(stream);
    const node = new AudioWorkletNode(ctx, "realtalk-mic", {
      processorOptions: { targetRate: INPUT_RATE },
    });
    node.port.onmessage = (msg) => onMicChunk(msg.data);
    const mute = ctx.createGain();
    mute.gain.value = 0; // keep the node pulled by the graph without echoing the mic
    source.connect(node).connect(mute).connect(ctx.destination);
    if (ctx.state === "suspended") await ctx.resume();
    mic = { ctx, stream, node };
    $("mic").textContent = "Stop microphone";
    addRow("client", `microphone on (${ctx.sampleRate} Hz -> ${INPUT_RATE} Hz PCM16, 20 ms frames)`, "client");
  }

  function stopMic(options = {}) {
    if (!mic) return;
    mic.stream.getTracks().forEach((t) => t.stop());
    mic.node.port.onmessage = null;
    mic.ctx.close();
    mic = null;
    $("mic").textContent = "Start microphone";
    if (options.sendEnd !== false && ws && ws.readyState === WebSocket.OPEN) {
      ws.send(JSON.stringify({ type: "audio_stream_end" }));
      addRow("client", "microphone off: sent audio_stream_end", "client");
    } else {
      addRow("client", "microphone off", "client");
    }
  }

  function waitFor(pred) {
    // The next event matching pred (pseudo events: __sent, __audio, __levels, __closed,
    // __reconnecting).
    return new Promise((resolve) => waiters.push({ pred, resolve }));
  }

  function until(pred) {
    // The first event matching pred, whether it already arrived or is still to come.
    const past = state.events.find(pred) || ends.find(pred);
    return past ? Promise.resolve(past) : waitFor(pred);
  }

  // ------------------------------------------------------------------ wiring

  $("connect").onclick = () => connect();
  $("hangup").onclick = () => hangUp();
  $("newthread").onclick = () => newThread();
  $("thread").oninput = () => ($("threadhint").textContent = "");
  $("mic").onclick = () => (mic ? stopMic() : startMic().catch((e) => onEvent({ type: "error", code: "microphone", message: String(e), fatal: false })));
  $("textform").onsubmit = (e) => {
    e.preventDefault();
    sendText($("text").value.trim());
    $("text").value = "";
  };
  try {
    const saved = localStorage.getItem("realtalk.thread");
    if (saved) {
      $("thread").value = saved;
      $("threadhint").textContent = "resumes your last thread (saved in this browser); New thread starts afresh";
    }
  } catch (_) { /* storage disabled */ }
  setInterval(tick, 50);

  function playbackQueued() {
    // What is scheduled but not played yet (0 right after a barge-in flush).
    if (!player) return { sources: 0, secondsAhead: 0 };
    return {
      sources: player.sources.size,
      secondsAhead: Math.max(0, player.next - player.ctx.currentTime),
    };
  }

  window.realtalk = {
    state, connect, hangUp, sendText, startMic, stopMic, newThread, setFilter, waitFor, until,
    playbackQueued,
  };
})();
