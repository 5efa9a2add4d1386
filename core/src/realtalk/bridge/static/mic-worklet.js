// AudioWorklet: microphone Float32 at the context rate -> 16 kHz PCM16 chunks of 20 ms.
// Downsampling averages the input samples that fall into each output sample (a box
// filter), which suppresses most aliasing at speech frequencies without a DSP library.
class RealtalkMic extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const target = (options.processorOptions && options.processorOptions.targetRate) || 16000;
    this.step = sampleRate / target; // input samples per output sample (may be fractional)
    this.pos = 0;
    this.acc = 0;
    this.count = 0;
    this.chunk = Math.round(target / 50); // 20 ms
    this.out = new Int16Array(this.chunk);
    this.n = 0;
  }

  process(inputs) {
    const channel = inputs[0] && inputs[0][0];
    if (!channel) return true;
    for (let i = 0; i < channel.length; i++) {
      this.acc += channel[i];
      this.count += 1;
      this.pos += 1;
      if (this.pos >= this.step) {
        this.pos -= this.step;
        const s = Math.max(-1, Math.min(1, this.acc / this.count));
        this.acc = 0;
        this.count = 0;
        this.out[this.n++] = s < 0 ? s * 0x8000 : s * 0x7fff;
        if (this.n === this.chunk) {
          this.port.postMessage(this.out.buffer, [this.out.buffer]);
          this.out = new Int16Array(this.chunk);
          this.n = 0;
        }
      }
    }
    return true;
  }
}

registerProcessor("realtalk-mic", RealtalkMic);
