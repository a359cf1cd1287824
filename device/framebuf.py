"""The buffer of a thermal frame: an array('f') of 24 x 32 pixels and the (24, 32) frame over
it, for the MLX90640 sensor (device/camera.py) and a thermal CSV replay
(device/framereplay.py). A module of its own so that an accelerometer board (which holds
device/sensors.py) does not hold this code.
"""

from device import xp


def frame_buffer(rows, cols):
    """(array('f') of rows*cols, its flat ndarray view or None) for thermal frames."""
    buf = xp.fbuf(rows * cols)
    return buf, (xp.view(buf) if xp.np is not None else None)


def frame_of(flat, rows, cols, buf):
    """(frame, shared): the frame as a (rows, cols) array, and whether it shares the
    buffer's memory (then it stays valid for every later frame; otherwise it has to be
    made again after each fill). Without an array library the frame is the buffer."""
    if flat is None:
        return buf, True
    frame = flat.reshape((rows, cols))
    old = buf[0]
    buf[0] = 1.0
    shared = float(frame[0, 0]) == 1.0
    buf[0] = old
    return frame, shared
