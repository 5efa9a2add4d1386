"""Talk to an agent through your microphone and hear it answer: full duplex, with barge-in.

    pip install sounddevice
    export GEMINI_API_KEY=...
    python examples/microphone.py                 # use headphones; Ctrl+C to stop
    python examples/microphone.py --half-duplex   # no headphones: mute the mic while it speaks
    python examples/microphone.py --fake-devices  # offline: a WAV file plays the microphone

Both directions run at once: your microphone streams into the queue from the sound card's
own thread while the agent's audio plays. When you talk over the agent, the provider sends
``interrupted`` and the speaker drops what it had not played yet, so the agent stops
mid-sentence like a person would. With ``--fake-devices`` a recorded question plays the
microphone (twice, the second time over the answer), a virtual speaker plays in real time,
and a local fake Gemini server replays a barge-in session: no key, no sound card.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import threading
import time
import wave
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

from realtalk import (
    INPUT_SAMPLE_RATE,
    OUTPUT_SAMPLE_RATE,
    AudioAgent,
    LiveInputQueue,
    RealtimeConfig,
)
from realtalk.audio import StreamResampler

BLOCK_SECONDS = 0.02  # 20 ms audio blocks, as sound cards deliver them


class Speaker:
    """A playback buffer between the event loop (writer) and the sound card (reader)."""

    def __init__(self, device_rate: int = OUTPUT_SAMPLE_RATE) -> None:
        self._buffer = bytearray()
        self._lock = threading.Lock()
        self.rate = device_rate
        self._resampler = StreamResampler(OUTPUT_SAMPLE_RATE, device_rate)
        self.played_bytes = 0
        self.dropped_bytes = 0

    def feed(self, pcm: bytes) -> None:
        data = self._resampler.process(pcm)
        with self._lock:
            self._buffer += data

    def read(self, nbytes: int) -> bytes:
        """Up to ``nbytes`` of audio, padded with silence (called on the audio thread)."""
        with self._lock:
            chunk = bytes(self._buffer[:nbytes])
            del self._buffer[:nbytes]
        self.played_bytes += len(chunk)
        return chunk + b"\x00" * (nbytes - len(chunk))

    def clear(self) -> int:
        """Barge-in: forget everything not played yet; returns the bytes dropped."""
        with self._lock:
            dropped = len(self._buffer)
            self._buffer.clear()
        self.dropped_bytes += dropped
        return dropped

    @property
    def busy(self) -> bool:
        with self._lock:
            return bool(self._buffer)


MicCallback = Callable[[bytes, int], None]


def explain_and_exit(message: str) -> None:
    print(f"microphone example: {message}", file=sys.stderr)
    raise SystemExit(2)


def load_sounddevice() -> Any:
    """The sounddevice module, or an explanation of what to install."""
    try:
        import sounddevice
    except ImportError:
        explain_and_exit(
            "this example needs the sounddevice package: pip install sounddevice "
            "(or run it with --fake-devices to try it without a sound card)"
        )
    except OSError as exc:  # the PortAudio library itself is missing
        explain_and_exit(
            f"sounddevice cannot load PortAudio ({exc}); on Debian/Ubuntu: "
            "apt-get install libportaudio2 (or use --fake-devices)"
        )
    return sounddevice


@contextlib.contextmanager
def sound_card(
    sd: Any, on_mic: MicCallback, speaker_factory: Callable[[int], Speaker]
) -> Iterator[Speaker]:
    """Open the default microphone and speaker, or explain why there are none."""
    try:
        mic_info = sd.query_devices(kind="input")
        out_info = sd.query_devices(kind="output")
    except Exception as exc:  # PortAudioError or ValueError: no such device
        explain_and_exit(f"no audio device found ({exc}); try --fake-devices")

    def rate_for(info: Any, wanted: int, check: Callable[..., None]) -> int:
        try:
            check(samplerate=wanted, channels=1, dtype="int16")
            return wanted
        except Exception:
            return int(info["default_samplerate"])

    mic_rate = rate_for(mic_info, INPUT_SAMPLE_RATE, sd.check_input_settings)
    out_rate = rate_for(out_info, OUTPUT_SAMPLE_RATE, sd.check_output_settings)
    speaker = speaker_factory(out_rate)

    def mic_callback(indata: Any, frames: int, when: Any, status: Any) -> None:
        on_mic(bytes(indata), mic_rate)

    def out_callback(outdata: Any, frames: int, when: Any, status: Any) -> None:
        outdata[:] = speaker.read(len(outdata))

    mic = sd.RawInputStream(
        samplerate=mic_rate,
        blocksize=int(mic_rate * BLOCK_SECONDS),
        channels=1,
        dtype="int16",
        callback=mic_callback,
    )
    out = sd.RawOutputStream(
        samplerate=out_rate,
        blocksize=int(out_rate * BLOCK_SECONDS),
        channels=1,
        dtype="int16",
        callback=out_callback,
    )
    with mic, out:
        print(f"listening on {mic_info['name']} ({mic_rate} Hz), playing on {out_info['name']}")
        yield speaker


@contextlib.contextmanager
def fake_devices(
    on_mic: MicCallback, speaker_factory: Callable[[int], Speaker], wav: Path
) -> Iterator[Speaker]:
    """A WAV file as the microphone and a silent, real-time speaker, each on its own thread."""
    with wave.open(str(wav), "rb") as file:
        rate, voice = file.getframerate(), file.readframes(file.getnframes())
    gap = b"\x00\x00" * int(rate * 0.5)
    speech = voice + gap + voice  # the question, then the same words over the answer
    speaker = speaker_factory(OUTPUT_SAMPLE_RATE)
    stop = threading.Event()

    def microphone() -> None:
        block = int(rate * BLOCK_SECONDS) * 2
        position, start = 0, time.monotonic()
        while not stop.is_set():
            data = speech[position : position + block] if position < len(speech) else b""
            on_mic(data.ljust(block, b"\x00"), rate)
            position += block
            start += BLOCK_SECONDS
            stop.wait(max(0.0, start - time.monotonic()))

    def loudspeaker() -> None:
        block = int(OUTPUT_SAMPLE_RATE * BLOCK_SECONDS) * 2
        start = time.monotonic()
        while not stop.is_set():
            speaker.read(block)
            start += BLOCK_SECONDS
            stop.wait(max(0.0, start - time.monotonic()))

    threads = [threading.Thread(target=f, daemon=True) for f in (microphone, loudspeaker)]
    for thread in threads:
        thread.start()
    print(f"fake devices: {wav.name} plays the microphone, the speaker is virtual")
    try:
        yield speaker
    finally:
        stop.set()
        for thread in threads:
            thread.join()


@contextlib.asynccontextmanager
async def gemini_endpoint(fake: bool) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    """Model name and provider options: Gemini Live, or a local replay of a barge-in."""
    if not fake:
        yield os.environ.get("GEMINI_LIVE_MODEL", "gemini"), {}
        return
    from realtalk_testing import FakeGeminiServer
    from realtalk_testing.cassette import shipped_cassette_path

    async with FakeGeminiServer(shipped_cassette_path("barge_in")) as server:
        options = {"api_key": "offline", "http_options": server.http_options}
        yield "gemini-live-2.5-flash-preview", options


async def converse(args: argparse.Namespace) -> int:
    queue = LiveInputQueue()
    holder: dict[str, Speaker] = {}

    def on_mic(pcm: bytes, rate: int) -> None:
        # Runs on the audio thread: the queue is thread-safe and never blocks.
        speaker = holder.get("speaker")
        if args.half_duplex and speaker is not None and speaker.busy:
            pcm = b"\x00" * len(pcm)  # no headphones: do not let the agent hear itself
        queue.send_audio(pcm, sample_rate=rate)

    def make_speaker(rate: int) -> Speaker:
        holder["speaker"] = Speaker(rate)
        return holder["speaker"]

    async with gemini_endpoint(args.fake_devices) as (model, options):
        config = RealtimeConfig(model=model, provider="gemini", provider_options=options)
        app = AudioAgent(
            model,
            realtime_config=config,
            system_prompt="You are a friendly voice assistant. Keep answers short.",
        ).compile()
        devices = (
            fake_devices(on_mic, make_speaker, args.wav)
            if args.fake_devices
            else sound_card(args.sounddevice, on_mic, make_speaker)
        )
        turns = 0
        with devices as speaker:
            async for event in app.arealtime(queue, {"thread_id": "microphone"}):
                if event.type == "audio_delta":
                    speaker.feed(event.data)
                elif event.type == "interrupted":
                    dropped = speaker.clear() / 2 / speaker.rate
                    print(f"\n[barge-in: you spoke, dropped {dropped:.1f} s of unplayed answer]")
                elif event.type == "input_transcript" and event.finished:
                    print(f"you:   {event.text}")
                elif event.type == "output_transcript" and event.finished:
                    print(f"agent: {event.text}")
                elif event.type == "error":
                    print(f"error: {event.code}: {event.message}", file=sys.stderr)
                elif event.type == "turn_complete":
                    turns += 1
                    if args.turns and turns >= args.turns:
                        queue.close()
            for _ in range(200):  # let the last answer finish playing (at most 10 s)
                if not speaker.busy:
                    break
                await asyncio.sleep(0.05)
        await app.aclose()
    played = speaker.played_bytes / 2 / speaker.rate
    print(f"done: {turns} turn(s), {played:.1f} s played")
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fake-devices", action="store_true", help="no sound card, no key")
    parser.add_argument("--half-duplex", action="store_true", help="mute the mic while it speaks")
    parser.add_argument("--turns", type=int, default=0, help="stop after N turns (0: Ctrl+C)")
    parser.add_argument("--wav", type=Path, help="what the fake microphone says")
    args = parser.parse_args(argv)
    if args.fake_devices:
        if args.wav is None:
            from importlib import resources

            args.wav = Path(str(resources.files("realtalk_testing") / "audio" / "question_16k.wav"))
        args.turns = args.turns or 1
    return args


def main() -> int:
    args = parse_args()
    args.sounddevice = None
    if not args.fake_devices:
        args.sounddevice = load_sounddevice()
        if not (os.environ.get("GEMINI_API_KEY") or os.environ.get("GOOGLE_API_KEY")):
            explain_and_exit("set GEMINI_API_KEY to talk to Gemini Live (or use --fake-devices)")
    try:
        return asyncio.run(converse(args))
    except KeyboardInterrupt:
        print("\nbye")
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
