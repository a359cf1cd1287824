"""Deterministic simulator of a boiler scene as an MLX90640 sees it (24 x 32 deg C).

The scene: a wall with a vertical temperature gradient and a fixed per-pixel pattern, a
cooler floor, a boiler body, a burner window (flickering flame: the part allowed to be
hot), a flow pipe and a return pipe running to the right edge, and a cold-water pipe down
the left. The boiler cycles between cold, warm and hot with first-order warm-up and
cool-down (the pipes lag it); the room drifts slowly (a 6-hour swing and a random walk).
The burner flares up now and then (+15 C for a few seconds). Noise of the MLX90640's order (0.15 C per pixel and frame at a 2 Hz refresh), one dead
pixel (stuck value) and two noisy pixels.

Anomalies (injected on top): a hot spot of a given size and excess at a given place, the
flow pipe staying cold when it should be hot, a slowly growing hot spot. Every random
draw comes from one numpy RandomState(seed): the same seed gives the same frames.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

ROWS, COLS = 24, 32
FPS = 1.0  # MLX_REFRESH_HZ = 2 (the default): a whole frame (two sub-pages) per second
NOISE = 0.15
STATES = {"cold": 4.0, "warm": 25.0, "hot": 48.0}  # water over ambient, deg C
BODY = (slice(5, 18), slice(8, 18))
BURNER = (slice(13, 16), slice(11, 15))
FLOW = (slice(7, 9), slice(18, 32))
RETURN = (slice(14, 15), slice(18, 32))
COLD_PIPE = (slice(0, 24), slice(3, 5))
DEAD = (20, 27)
NOISY = ((2, 29), (22, 10))


@dataclass
class Anomaly:
    """kind: "spot" (size x size pixels, `excess` C, from `start` to `end` s),
    "cold_pipe" (the flow pipe stays at ambient), "growing" (excess grows by `rate` C per
    minute from `start`, up to `excess`; 1x1, then 2x2 over 3 C, then 3x3 over 6 C)."""

    kind: str
    start: float
    end: float = float("inf")
    row: int = 10
    col: int = 24
    size: int = 2
    excess: float = 10.0
    rate: float = 0.5


@dataclass
class Scene:
    """`room` fixes the place (the wall's pixel pattern, the phase of the daily swing);
    `seed` the course of events (boiler schedule, noise). Train on one seed and test on
    another of the same room."""

    seed: int = 0
    room: int = 0
    fps: float = FPS
    ambient: float = 20.0
    drift: float = 1.5  # amplitude of the slow swing, deg C
    phase_minutes: tuple = (8.0, 25.0)  # each boiler state lasts this long (uniform)
    anomalies: list = field(default_factory=list)
    first_state: str | None = None  # the state the boiler starts in (None: drawn)

    def __post_init__(self) -> None:
        rs = np.random.RandomState(1000 + self.room)
        self._rs = np.random.RandomState(self.seed)
        r = np.arange(ROWS, dtype=np.float64)[:, None]
        wall = 0.8 * (r / ROWS) * np.ones((1, COLS)) + rs.normal(0, 0.3, (ROWS, COLS))
        wall[20:, :] -= 1.5  # floor
        self.wall = wall
        self.body_w = np.zeros((ROWS, COLS))
        self.body_w[BODY] = 0.45
        self.body_w[BODY][0, :] = 0.3  # cooler top and edges
        self.burner_w = np.zeros((ROWS, COLS))
        self.burner_w[BURNER] = 1.0
        self.flow_w = np.zeros((ROWS, COLS))
        self.flow_w[FLOW] = 0.85
        self.return_w = np.zeros((ROWS, COLS))
        self.return_w[RETURN] = 0.6
        self.cold_w = np.zeros((ROWS, COLS))
        self.cold_w[COLD_PIPE] = 1.0
        self.phase_offset = rs.uniform(0, 2 * np.pi)
        self.noise_scale = np.full((ROWS, COLS), NOISE)
        for p in NOISY:
            self.noise_scale[p] = 1.0
        self.dead_value = 15.0

    # ---- the boiler's cycle --------------------------------------------------------------
    def schedule(self, n: int, rs: np.random.RandomState) -> tuple[np.ndarray, list[str]]:
        """Water temperature over ambient per frame, and the state per frame."""
        dt = 1.0 / self.fps
        target = np.empty(n)
        states: list[str] = []
        names = list(STATES)
        state = names[rs.randint(len(names))]  # drawn even when fixed: the same seed, the same course
        state = self.first_state or state
        i = 0
        while i < n:
            k = int(rs.uniform(*self.phase_minutes) * 60 * self.fps)
            target[i:i + k] = STATES[state]
            states.extend([state] * min(k, n - i))
            i += k
            state = rs.choice([s for s in names if s != state])
        water = np.empty(n)
        w = target[0]
        for t in range(n):
            tau = 90.0 if target[t] > w else 240.0  # burner heats fast, cools slowly
            w += (target[t] - w) * (1 - np.exp(-dt / tau))
            water[t] = w
        return water, states

    @staticmethod
    def _lag(x: np.ndarray, tau: float, dt: float) -> np.ndarray:
        out = np.empty_like(x)
        a = 1 - np.exp(-dt / tau)
        y = x[0]
        for t in range(len(x)):
            y += (x[t] - y) * a
            out[t] = y
        return out

    def frames(self, seconds: float, start: float = 0.0) -> dict:
        """Frames for `seconds` of scene from time `start`: a dict with "frames" (n, 24, 32)
        float32, "ambient" (the room), "ta" (the sensor's own ambient reading), "t" (s),
        "state", "label" (True where an injected anomaly shows), "water"."""
        rs = self._rs
        dt = 1.0 / self.fps
        n = int(round(seconds * self.fps))
        t = start + np.arange(n) * dt
        water, states = self.schedule(n, rs)
        walk = np.cumsum(rs.normal(0, 0.002, n))
        amb = self.ambient + self.drift * np.sin(2 * np.pi * t / (6 * 3600) + self.phase_offset) + walk
        flow = self._lag(water, 30.0, dt)
        ret = self._lag(water, 120.0, dt)
        burning = np.clip((water - 6.0) / 20.0, 0, 1)
        flicker = np.abs(rs.normal(0, 1, n)) * 3.0
        flare = self._lag((rs.uniform(size=n) < 0.004) * 60.0, 4.0, dt)  # ignition flare-ups
        burner = burning * (30.0 + flicker + flare)
        f = (self.wall[None] + amb[:, None, None]
             + water[:, None, None] * self.body_w[None]
             + burner[:, None, None] * self.burner_w[None]
             + ret[:, None, None] * self.return_w[None]
             - 6.0 * self.cold_w[None])
        flow_term = flow[:, None, None] * self.flow_w[None]
        label = np.zeros(n, dtype=bool)
        extra = np.zeros((n, ROWS, COLS))
        for a in self.anomalies:
            on = (t >= a.start) & (t < a.end)
            if a.kind == "spot":
                extra[on, a.row:a.row + a.size, a.col:a.col + a.size] += a.excess
                label |= on
            elif a.kind == "cold_pipe":
                flow_term[on] = 0.0
                label |= on & (flow > 5.0)
            elif a.kind == "growing":
                ex = np.clip((t - a.start) / 60.0 * a.rate, 0, a.excess) * on
                for k in np.flatnonzero(ex > 0):
                    s = 1 if ex[k] < 3 else (2 if ex[k] < 6 else 3)
                    extra[k, a.row:a.row + s, a.col:a.col + s] += ex[k]
                label |= ex > 0
            else:
                raise ValueError(f"unknown anomaly kind {a.kind!r}")
        f = f + flow_term + extra
        f += rs.normal(0, 1, f.shape) * self.noise_scale[None]
        f[:, DEAD[0], DEAD[1]] = self.dead_value
        ta = amb + 8.0 + rs.normal(0, 0.05, n)  # the die runs warmer than the room
        return {"frames": f.astype(np.float32), "ambient": amb, "ta": ta, "t": t,
                "state": np.array(states), "label": label, "water": water}


def normal(seed: int, seconds: float, room: int = 0, **kw) -> dict:
    """Normal cycling only."""
    return Scene(seed=seed, room=room, **kw).frames(seconds)
