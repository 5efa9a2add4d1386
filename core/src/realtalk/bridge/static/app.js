// realtalk browser client: microphone -> /v1/graph/live -> speaker, with live transcripts.
// Plain JS, no build step. State for tests and debugging lives in window.realtalk.
"use strict";

(() => {
  const INPUT_RATE = 16000;
  const $ = (id) => document.getElementById(id);
  const state = {
    status: "idle",
    threadId: null,
    transcripts: [], // {role, text, final}
    toolCalls: [], // {id, name, args, result, error}
    events: [], // every JSON event, in order
    errors: [],
    interruptions: 0,
    receivedAudioBytes: 0,
    receivedAudioSeconds: 0,
    sentAudioBytes: 0,
    closeCode: null,
    closeReason: null,
  };
  const waiters = []; // {pred, resolve}
  let ws = null;
  let outputRate = 24000;
  let player = null; // {ctx, next, sources}
  let mic = null; // {ctx, stream, node}

  // ------------------------------------------------------------------ UI helpers

  function setStatus(text, kind) {
    state.status = text;
    const el = $("status");
    el.textContent = text;
    el.className = "status " + (kind || "idle");
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
    const tools = $("toolcalls");
    tools.replaceChildren(
      ...state.toolCalls.map((c) => {
        const li = document.createElement("li");
        const outcome = c.error ? "error: " + c.error : c.done ? JSON.stringify(c.result) : "…";
        li.textContent = `${c.name}(${JSON.stringify(c.args)}) → ${outcome}`;
        return li;
      })
    );
    $("meter").textContent =
      `mic ${(state.sentAudioBytes / 2 / INPUT_RATE).toFixed(1)} s sent · ` +
      `${state.receivedAudioSeconds.toFixed(1)} s of reply received`;
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
      player = { ctx, next: 0, sources: new Set() };
    }
    if (player.ctx.state === "suspended") player.ctx.resume();
    return player;
  }

  function play(buffer) {
    const pcm = new Int16Array(buffer);
    state.receivedAudioBytes += buffer.byteLength;
    state.receivedAudioSeconds += pcm.length / outputRate;
    const p = ensurePlayer();
    const audio = p.ctx.createBuffer(1, pcm.length, outputRate);
    const data = audio.getChannelData(0);
    for (let i = 0; i < pcm.length; i++) data[i] = pcm[i] / 0x8000;
    const source = p.ctx.createBufferSource();
    source.buffer = audio;
    source.connect(p.ctx.destination);
    const start = Math.max(p.ctx.currentTime + 0.02, p.next);
    source.start(start);
    p.next = start + audio.duration;
    p.sources.add(source);
    source.onended = () => p.sources.delete(source);
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

  function onEvent(event) {
    state.events.push(event);
    switch (event.type) {
      case "session_started":
        state.threadId = event.thread_id;
        $("thread").value = event.thread_id;
        try { localStorage.setItem("realtalk.thread", event.thread_id); } catch (_) {}
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
        break;
      case "interrupted":
        state.interruptions += 1;
        flushPlayback();
        break;
      case "tool_call":
        state.toolCalls.push({ id: event.id, name: event.name, args: event.args, done: false });
        break;
      case "tool_result": {
        const call = state.toolCalls.find((c) => c.id === event.id);
        if (call) Object.assign(call, { result: event.result, error: event.error, done: true });
        break;
      }
      case "error":
        state.errors.push(event);
        state.transcripts.push({ role: "system", text: `${event.code}: ${event.message}`, final: true });
        if (event.fatal) setStatus("error", "error");
        break;
      default:
        break;
    }
    render();
    notify(event);
  }

  function connect(options = {}) {
    if (ws) return Promise.resolve(state.threadId);
    const token = options.token ?? $("token").value.trim();
    const threadId = options.threadId ?? $("thread").value.trim();
    const url = options.url || `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/v1/graph/live`;
    // Browsers cannot set headers on a WebSocket: the token rides in the subprotocol list.
    const protocols = ["realtalk.v1"];
    if (token) protocols.push("bearer." + token);
    state.closeCode = null;
    setStatus("connecting");
    ws = new WebSocket(url, protocols);
    ws.binaryType = "arraybuffer";
    const first = { input_sample_rate: INPUT_RATE, ...(options.overrides || {}) };
    if (threadId) first.thread_id = threadId;
    ws.onopen = () => {
      ws.send(JSON.stringify(first));
      ensurePlayer();
      enable(true);
    };
    ws.onmessage = (msg) => {
      if (typeof msg.data === "string") onEvent(JSON.parse(msg.data));
      else play(msg.data);
    };
    ws.onclose = (ev) => {
      state.closeCode = ev.code;
      state.closeReason = ev.reason;
      setStatus(`closed ${ev.code}${ev.reason ? " " + ev.reason : ""}`, ev.code === 1000 ? "idle" : "error");
      stopMic();
      ws = null;
      enable(false);
      notify({ type: "__closed", code: ev.code });
    };
    return waitFor((e) => e.type === "session_started" || e.type === "__closed").then(() => state.threadId);
  }

  function hangUp() {
    stopMic(); // flushes the last utterance (audio_stream_end) before the input ends
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: "close" }));
  }

  function sendText(text) {
    if (!ws || !text) return;
    ws.send(JSON.stringify({ type: "text", text }));
    state.transcripts.push({ role: "user", text, final: true });
    render();
  }

  // ------------------------------------------------------------------ microphone

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
    node.port.onmessage = (msg) => {
      if (ws && ws.readyState === WebSocket.OPEN) {
        ws.send(msg.data);
        state.sentAudioBytes += msg.data.byteLength;
      }
    };
    const mute = ctx.createGain();
    mute.gain.value = 0; // keep the node pulled by the graph without echoing the mic
    source.connect(node).connect(mute).connect(ctx.destination);
    if (ctx.state === "suspended") await ctx.resume();
    mic = { ctx, stream, node };
    $("mic").textContent = "Stop microphone";
  }

  function stopMic() {
    if (!mic) return;
    mic.stream.getTracks().forEach((t) => t.stop());
    mic.node.port.onmessage = null;
    mic.ctx.close();
    mic = null;
    $("mic").textContent = "Start microphone";
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: "audio_stream_end" }));
  }

  function waitFor(pred) {
    // The next event matching pred.
    return new Promise((resolve) => waiters.push({ pred, resolve }));
  }

  function until(pred) {
    // The first event matching pred, whether it already arrived or is still to come.
    const past = state.events.find(pred);
    return past ? Promise.resolve(past) : waitFor(pred);
  }

  // ------------------------------------------------------------------ wiring

  $("connect").onclick = () => connect();
  $("hangup").onclick = () => hangUp();
  $("mic").onclick = () => (mic ? stopMic() : startMic().catch((e) => onEvent({ type: "error", code: "microphone", message: String(e), fatal: false })));
  $("textform").onsubmit = (e) => {
    e.preventDefault();
    sendText($("text").value.trim());
    $("text").value = "";
  };
  try {
    $("thread").value = localStorage.getItem("realtalk.thread") || "";
  } catch (_) { /* storage disabled */ }

  function playbackQueued() {
    // What is scheduled but not played yet (0 right after a barge-in flush).
    if (!player) return { sources: 0, secondsAhead: 0 };
    return {
      sources: player.sources.size,
      secondsAhead: Math.max(0, player.next - player.ctx.currentTime),
    };
  }

  window.realtalk = {
    state, connect, hangUp, sendText, startMic, stopMic, waitFor, until, playbackQueued,
  };
})();
