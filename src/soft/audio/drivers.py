"""Microphone drivers: a sound card, an audio file, or the district simulator.

Every driver yields :class:`AudioBlock` s of float32 mono full-scale samples stamped with the
capture clock (the time is sacred: stamped once here and copied downstream). ``read(now_ns)``
returns everything captured up to ``now``; files and the simulator are paced by that ``now``
so a replay can run faster than real time. Samples stay in memory: no driver writes audio.
"""
from __future__ import annotations

import os
import queue
from dataclasses import dataclass
from math import gcd
from typing import Any, BinaryIO, Callable, Protocol

import numpy as np

NS = 1_000_000_000


@dataclass
class AudioBlock:
    """Consecutive mono samples and the capture-clock time of the first one."""

    samples: np.ndarray     # float32 mono, digital full scale -1..1
    t0_ns: int              # capture-clock time of samples[0]
    sample_rate: int
    dropped: int = 0        # frames lost just before this block


class AudioInputError(RuntimeError):
    """An audio source that cannot be used; the message names the file or device and why."""


class MicrophoneDriver(Protocol):
    """What the sensor node reads audio from."""

    sample_rate: int

    def open(self) -> None:
        """Acquire the device or file."""

    def read(self, now_ns: int) -> list[AudioBlock]:
        """Everything captured up to ``now_ns``."""

    def close(self) -> None:
        """Release the device or file."""


def _split(x: np.ndarray, t0_ns: int, sample_rate: int, block: int,
           first_dropped: int = 0) -> list[AudioBlock]:
    out = []
    for i in range(0, len(x), block):
        out.append(AudioBlock(x[i:i + block], t0_ns + i * NS // sample_rate, sample_rate,
                              first_dropped if i == 0 else 0))
    return out


# --------------------------------------------------------------------------------- file


class _Resampler:
    """Chunked ``resample_poly`` that matches the one-shot call on the whole signal.

    Each chunk is processed with enough neighbouring input (aligned on ``down``) for the
    anti-aliasing filter, then trimmed, so chunk borders leave no trace.
    """

    def __init__(self, rate_in: int, rate_out: int):
        g = gcd(rate_in, rate_out)
        self.up, self.down = rate_out // g, rate_in // g
        half_len = 10 * max(self.up, self.down)     # resample_poly's default filter
        ctx = half_len // self.up + 2
        self.ctx = -(-ctx // self.down) * self.down

    def chunk(self, ext: np.ndarray, start: int, stop: int, ctx_lo: int) -> np.ndarray:
        """Output for input ``[start, stop)`` given ``ext`` = input from ``start - ctx_lo``."""
        from scipy.signal import resample_poly
        y = resample_poly(ext, self.up, self.down)
        first = -(-start * self.up // self.down)
        last = -(-stop * self.up // self.down)
        off = first - (start - ctx_lo) * self.up // self.down
        return y[off:off + (last - first)].astype(np.float32)


def _wav_missing_bytes(path: str | os.PathLike | BinaryIO) -> int:
    """Bytes the RIFF 'data' chunk announces beyond the end of the file (libsndfile hides it)."""
    import struct
    own = isinstance(path, (str, os.PathLike))
    f = open(path, 'rb') if own else path
    try:
        pos = None if own else f.tell()
        f.seek(0, os.SEEK_END)
        size = f.tell()
        f.seek(12)
        offset = 12
        while offset + 8 <= size:
            head = f.read(8)
            if len(head) < 8:
                return 0
            cid, length = head[:4], struct.unpack('<I', head[4:])[0]
            if cid == b'data':
                return max(0, offset + 8 + length - size)
            offset += 8 + length + (length & 1)
            f.seek(offset)
        return 0
    finally:
        if own:
            f.close()
        else:
            f.seek(pos)


class FileDriver:
    """Plays a WAV/FLAC file (any rate, any channel count) as if captured from ``start_ns``.

    The file is read in chunks (hour-long recordings are never loaded whole), downmixed to
    mono and resampled to ``sample_rate``. ``path`` may also be a binary file object (tests
    keep audio in memory). A truncated file is refused, unless ``play_truncated``: then its
    readable part plays and ``truncated`` says what was missing (an evaluation counts the
    hours it did hear; a sensor must not loop a broken file unnoticed).
    """

    def __init__(self, path: str | os.PathLike | BinaryIO, sample_rate: int = 16000,
                 start_ns: int = 0, loop: bool = False, block_s: float = 0.1,
                 play_truncated: bool = False):
        self.path = path
        self.name = (os.fspath(path) if isinstance(path, (str, os.PathLike))
                     else getattr(path, 'name', '<in-memory file>'))
        self.sample_rate = int(sample_rate)
        self.start_ns = int(start_ns)
        self.loop = bool(loop)
        self.block = max(1, int(round(block_s * self.sample_rate)))
        self._sf: Any = None
        self._emitted = 0              # output samples handed out
        self._ready = np.zeros(0, dtype=np.float32)
        self.exhausted = False
        self.play_truncated = bool(play_truncated)
        self.truncated: str | None = None

    def _error(self, what: str) -> AudioInputError:
        return AudioInputError(f'audio file {self.name}: {what}')

    def open(self) -> None:
        """Open and check the file; AudioInputError says what is wrong with it."""
        import soundfile as sf
        if isinstance(self.path, (str, os.PathLike)) and not os.path.isfile(self.path):
            raise self._error('no such file')
        try:
            self._sf = sf.SoundFile(self.path)
        except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
            raise self._error(f'unreadable or unsupported format ({exc})') from None
        info = self._sf
        if info.samplerate <= 0 or info.channels <= 0:
            raise self._error(f'invalid header (rate {info.samplerate}, '
                              f'{info.channels} channels)')
        if info.format in ('WAV', 'WAVEX'):
            short = _wav_missing_bytes(self.path)
            if short:
                self._truncated(f'truncated: the WAV data chunk lacks {short} bytes')
        self.file_rate = int(info.samplerate)
        self.channels = int(info.channels)
        self.frames = int(info.frames)
        self._rs = (None if self.file_rate == self.sample_rate
                    else _Resampler(self.file_rate, self.sample_rate))
        self._rewind()

    def _truncated(self, what: str) -> None:
        if not self.play_truncated:
            raise self._error(what)
        self.truncated = self.truncated or what

    def _rewind(self) -> None:
        self._sf.seek(0)
        self._in_pos = 0                # input frames consumed into outputs
        self._in_buf = np.zeros(0, dtype=np.float32)   # input from _buf_start on
        self._buf_start = 0
        self._eof = False

    def _read_input(self, n: int) -> None:
        """Append up to n downmixed input frames to the buffer; detect truncation."""
        import soundfile as sf
        try:
            data = self._sf.read(n, dtype='float32', always_2d=True)
        except (sf.LibsndfileError, RuntimeError) as exc:
            raise self._error(f'corrupt data after {self._buf_start + len(self._in_buf)} '
                              f'frames ({exc})') from None
        mono = data.mean(axis=1, dtype=np.float32) if data.shape[1] > 1 else data[:, 0]
        if not np.all(np.isfinite(mono)):
            raise self._error('contains NaN/inf samples')
        self._in_buf = np.concatenate((self._in_buf, mono))
        if len(data) < n:
            got = self._buf_start + len(self._in_buf)
            if 0 < self.frames and got < self.frames:
                self._truncated(f'truncated: header announces {self.frames} frames, '
                                f'only {got} readable')
            self._eof = True

    def _available(self) -> int:
        return self._buf_start + len(self._in_buf)

    def _produce(self, want: int) -> None:
        """Fill ``_ready`` with at least ``want`` output samples unless the file ends."""
        rs = self._rs
        step = max(4096, self.block * 4)
        if rs is not None:
            step = -(-step // rs.down) * rs.down
        ctx = 0 if rs is None else rs.ctx
        pieces = [self._ready]
        have = len(self._ready)
        while have < want:
            if self._eof and self._in_pos >= self._available():
                if not self.loop or self._available() == 0:
                    self.exhausted = True
                    break
                self._rewind()
            stop = self._in_pos + step
            while not self._eof and self._available() < stop + ctx:
                self._read_input(stop + ctx - self._available())
            stop = min(stop, self._available())
            if rs is None:
                out = self._in_buf[self._in_pos - self._buf_start:stop - self._buf_start]
            else:
                lo = max(0, self._in_pos - ctx)
                ext = self._in_buf[lo - self._buf_start:stop + ctx - self._buf_start]
                if len(ext) < stop + ctx - lo:       # past the end: the zeros of one-shot
                    ext = np.concatenate((ext, np.zeros(stop + ctx - lo - len(ext),
                                                        np.float32)))
                out = rs.chunk(ext, self._in_pos, stop, self._in_pos - lo)
            self._in_pos = stop
            keep = max(self._buf_start, self._in_pos - ctx)
            self._in_buf = self._in_buf[keep - self._buf_start:]
            self._buf_start = keep
            pieces.append(out)
            have += len(out)
        self._ready = np.concatenate(pieces)

    def read(self, now_ns: int) -> list[AudioBlock]:
        """Samples whose time is <= now, in blocks of at most ``block_s``."""
        if self._sf is None:
            raise self._error('read() before open()')
        if now_ns < self.start_ns:
            return []
        due = (now_ns - self.start_ns) * self.sample_rate // NS + 1 - self._emitted
        if due <= 0:
            return []
        self._produce(due)
        x, self._ready = self._ready[:due], self._ready[due:]
        t0 = self.start_ns + self._emitted * NS // self.sample_rate
        self._emitted += len(x)
        return _split(x, t0, self.sample_rate, self.block)

    def close(self) -> None:
        """Close the file."""
        if self._sf is not None:
            self._sf.close()
            self._sf = None


# ------------------------------------------------------------------------------- device


def host_clock_ns() -> int:
    """The host clock the device layer stamps with (the only wall-clock read in the chain)."""
    import time
    return time.time_ns()


class DeviceDriver:
    """A PortAudio input (ALSA, Pulse, USB...) through ``sounddevice``.

    The audio callback only copies into a bounded queue; a full queue counts the lost frames,
    reported as ``dropped`` on the next block so the detector resets cleanly. Each block is
    stamped with the ADC time of its first sample mapped onto ``clock`` (host clock in ns).
    """

    def __init__(self, device: str | int | None, sample_rate: int = 16000, block_s: float = 0.1,
                 channels: int = 1, queue_s: float = 2.0,
                 clock: Callable[[], int] | None = None):
        self.device = device
        self.sample_rate = int(sample_rate)
        self.block = max(1, int(round(block_s * self.sample_rate)))
        self.channels = int(channels)
        self.clock = clock or host_clock_ns
        self._queue: queue.Queue = queue.Queue(maxsize=max(2, int(queue_s / block_s)))
        self._stream: Any = None
        self._lost = 0

    def _error(self, what: str, sd: Any = None) -> AudioInputError:
        listing = ''
        if sd is not None:
            try:
                names = [f'{i}: {d["name"]}' for i, d in enumerate(sd.query_devices())
                         if d.get('max_input_channels', 0) > 0]
                listing = '; available input devices: ' + (', '.join(names) or 'none')
            except Exception as exc:   # noqa: BLE001 - listing is best effort
                listing = f'; listing devices failed: {exc}'
        return AudioInputError(f'audio device {self.device!r}: {what}{listing}')

    def _callback(self, indata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        mono = indata.mean(axis=1) if indata.shape[1] > 1 else indata[:, 0]
        now = self.clock()
        adc, cur = getattr(time_info, 'inputBufferAdcTime', 0.0), getattr(
            time_info, 'currentTime', 0.0)
        age_s = (cur - adc) if adc and cur >= adc else frames / self.sample_rate
        t0 = now - int(round(age_s * NS))
        lost = 1 if status and getattr(status, 'input_overflow', False) else 0
        try:
            self._queue.put_nowait(AudioBlock(mono.astype(np.float32), t0, self.sample_rate,
                                              self._lost + lost))
            self._lost = 0
        except queue.Full:
            self._lost += frames + lost

    def open(self) -> None:
        """Open the input stream; AudioInputError names the device and lists the others."""
        try:
            import sounddevice as sd
        except OSError as exc:
            raise self._error(f'PortAudio is not available ({exc}); install libportaudio2')
        except ImportError as exc:
            raise self._error(f'the sounddevice package is missing ({exc})')
        try:
            sd.check_input_settings(device=self.device, channels=self.channels,
                                    samplerate=self.sample_rate, dtype='float32')
            self._stream = sd.InputStream(device=self.device, channels=self.channels,
                                          samplerate=self.sample_rate, dtype='float32',
                                          blocksize=self.block, callback=self._callback)
            self._stream.start()
        except (ValueError, sd.PortAudioError) as exc:
            raise self._error(f'cannot open ({exc})', sd) from None

    def read(self, now_ns: int) -> list[AudioBlock]:
        """Blocks captured since the last read (``now_ns`` is not needed: the device paces)."""
        out = []
        while True:
            try:
                out.append(self._queue.get_nowait())
            except queue.Empty:
                return out

    def close(self) -> None:
        """Stop and close the stream."""
        if self._stream is not None:
            self._stream.stop()
            self._stream.close()
            self._stream = None


# ---------------------------------------------------------------------------- simulator


class SimDriver:
    """One microphone of the district simulator, paced by simulated true time."""

    def __init__(self, simulation: Any, mic_index: int, block_s: float = 0.1,
                 start_ns: int = 0):
        # start_ns: host time of the scenario's t = 0 (a ROS clock is at epoch time).
        self.start_ns = int(start_ns)
        self.sim = simulation
        self.mic_index = int(mic_index)
        self.sample_rate = int(simulation.sample_rate)
        self.block = max(1, int(round(block_s * self.sample_rate)))
        self._next = 0          # next sample index to render

    def open(self) -> None:
        """Nothing to acquire."""

    def read(self, now_ns: int) -> list[AudioBlock]:
        """Whole blocks whose last sample's true time is <= ``now_ns``."""
        now_ns -= self.start_ns
        if now_ns < 0:
            return []
        last_sample = now_ns * self.sample_rate // NS
        n_blocks = (last_sample + 1 - self._next) // self.block
        out = []
        for _ in range(max(0, n_blocks)):
            start = self._next
            x = np.asarray(self.sim.render(self.mic_index, start, self.block), dtype=np.float32)
            if x.shape != (self.block,):
                raise AudioInputError(f'simulator mic {self.mic_index}: render returned shape '
                                      f'{x.shape}, expected ({self.block},)')
            true_ns = start * NS // self.sample_rate
            t0 = self.start_ns + int(self.sim.capture_time_ns(self.mic_index, true_ns))
            out.append(AudioBlock(x, t0, self.sample_rate))
            self._next += self.block
        return out

    def close(self) -> None:
        """Nothing to release."""
