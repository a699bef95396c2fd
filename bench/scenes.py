"""The filter graphs behind the corpus: camera footage, films, slideshows, screens and graphics.

Each function returns a filter graph that ends in the picture to encode. Photos are looping inputs
`[0:v]`, `[1:v]`, ... in the order the clip names them. `<grain>` marks where a clip's synthetic
grain goes: the corpus writes the clip with it (what the user sends) and without it (the clean
picture, for the second SSIM).
"""

from __future__ import annotations

GRAIN = "<grain>"
# Sensor noise of a phone camera in dim light: temporal, on every plane.
CAMERA_GRAIN = "noise=alls=8:allf=t"
# Film grain: strong on brightness, weaker on colour.
FILM_GRAIN = "noise=c0s=12:c0f=t:c1s=4:c1f=t:c2s=4:c2f=t"
GRADIENT_GRAIN = "noise=alls=6:allf=t"


def fit(index: int, w: int, h: int) -> str:
    """Photo `index` scaled to cover w x h and centre-cropped to it."""
    return f"[{index}:v]scale={w}:{h}:force_original_aspect_ratio=increase,crop={w}:{h},setsar=1"


def camera_pan(w: int, h: int, seconds: float, fps: int) -> str:
    """A slow zoom and pan over photo 0, as a hand-held phone would film it."""
    frames = int(seconds * fps)
    zoom = f"zoompan=z='1.1+0.25*on/{frames}':x='(iw-iw/zoom)*on/{frames}':y='(ih-ih/zoom)/3'"
    big_w, big_h = _even(w * 4 // 3), _even(h * 4 // 3)
    return f"{fit(0, big_w, big_h)},{zoom}:d=1:s={w}x{h}:fps={fps},format=yuv420p{GRAIN}"


def camera_zoom(w: int, h: int, seconds: float, fps: int) -> str:
    """A steady push in on the centre of photo 0."""
    frames = int(seconds * fps)
    zoom = f"zoompan=z='1+0.6*on/{frames}':x='(iw-iw/zoom)/2':y='(ih-ih/zoom)/2'"
    big_w, big_h = _even(w * 4 // 3), _even(h * 4 // 3)
    return f"{fit(0, big_w, big_h)},{zoom}:d=1:s={w}x{h}:fps={fps},format=yuv420p{GRAIN}"


def fast_motion(w: int, h: int) -> str:
    """A whip pan over photo 0: the whole frame moves every frame."""
    return (
        f"{fit(0, w, h)},scroll=horizontal=0.013:vertical=0.004,scale={w * 2}:{h * 2},crop={w}:{h},"
        f"rotate=a='0.2*sin(2*PI*t)':c=black,format=yuv420p{GRAIN}"
    )


def static_scene(w: int, h: int) -> str:
    """A camera on a tripod: photo 0 holds still while a small part (photo 1) drifts across."""
    small_w, small_h = _even(w // 6), _even(h // 6)
    mover = f"{fit(1, small_w, small_h)}[mover]"
    path = "x='W/10+t*W/20':y='H/2+H/12*sin(t)'"
    return f"{mover};{fit(0, w, h)}[bg];[bg][mover]overlay={path},format=yuv420p{GRAIN}"


def slideshow(w: int, h: int, seconds: float, photos: int, fade: float = 0.5) -> str:
    """`photos` stills in turn, each fading into the next."""
    hold = (seconds + (photos - 1) * fade) / photos
    parts = [
        f"{fit(i, w, h)},trim=duration={hold:g},setpts=PTS-STARTPTS,format=yuv420p[s{i}]"
        for i in range(photos)
    ]
    chain, last = [], "s0"
    for i in range(1, photos):
        offset = i * (hold - fade)
        chain.append(f"[{last}][s{i}]xfade=transition=fade:duration={fade:g}:offset={offset:g}[x{i}]")
        last = f"x{i}"
    return ";".join([*parts, *chain]) + f";[{last}]null"


def film_letterbox(w: int, h: int, seconds: float, fps: int) -> str:
    """A 2.39:1 film on a 16:9 frame: a pan over photo 0, a hard cut, a push in on photo 1; graded."""
    pic_h = _even(round(w / 2.39))
    shot = seconds / 2
    frames = int(shot * fps)
    big_w, big_h = _even(w * 4 // 3), _even(pic_h * 4 // 3)
    pan = f"zoompan=z='1.2':x='(iw-iw/zoom)*on/{frames}':y='(ih-ih/zoom)/2':d=1:s={w}x{pic_h}:fps={fps}"
    push = f"zoompan=z='1+0.3*on/{frames}':x='(iw-iw/zoom)/2':y='(ih-ih/zoom)/2':d=1:s={w}x{pic_h}:fps={fps}"
    shots = [
        f"{fit(0, big_w, big_h)},{pan},trim=duration={shot:g},setpts=PTS-STARTPTS[a]",
        f"{fit(1, big_w, big_h)},{push},trim=duration={shot:g},setpts=PTS-STARTPTS[b]",
    ]
    grade = "colorbalance=rs=0.06:gs=0.01:bs=-0.05:rh=-0.04:bh=0.06,format=yuv420p"
    return ";".join(shots) + f";[a][b]concat=n=2:v=1:a=0,{grade}{GRAIN},pad={w}:{h}:(ow-iw)/2:(oh-ih)/2"


def film_dark(w: int, h: int) -> str:
    """A night scene from a hand-held film camera: photo 0 darkened, shaking a little."""
    big_w, big_h = _even(w * 11 // 10), _even(h * 11 // 10)
    shake = "x='(iw-ow)/2+9*sin(t*3.1)+5*sin(t*7.3)':y='(ih-oh)/2+6*sin(t*2.3)+3*sin(t*8.9)'"
    return f"{fit(0, big_w, big_h)},crop={w}:{h}:{shake},eq=brightness=-0.12:gamma=0.75,format=yuv420p{GRAIN}"


def gradient(w: int, h: int, seconds: float, fps: int) -> str:
    """Slowly turning colour gradients: the hardest case for a 256-colour palette once grain is on."""
    colours = "c0=0x1e3c72:c1=0xff7e5f:c2=0xfeb47b:c3=0x6a3093"  # a sunset
    return (
        f"gradients=s={w}x{h}:r={fps}:d={seconds}:speed=0.015:nb_colors=4:{colours}:"
        f"x0=0:y0=0:x1={w}:y1={h}:seed=7,format=yuv420p{GRAIN}"
    )


def text(w: int, h: int, seconds: float, fps: int) -> str:
    """A screen recording: lines of text scrolling up, a clock, a moving cursor."""
    size = max(18, h // 24)
    lines = [
        "Quarterly report - revenue up 12 percent and churn down to 3.1",
        "TODO fix the flaky upload test before Friday",
        "ffmpeg -i in.mp4 -vf palettegen pal.png and then paletteuse",
        "The quick brown fox jumps over the lazy dog 0123456789",
    ]
    draws = [
        f"drawtext=text='{line}':fontsize={size}:fontcolor=0x202020:x=40:y={h // 6 + i * size * 2}-t*{size}"
        for i, line in enumerate(lines * 3)
    ]
    clock = f"drawtext=text='%{{pts\\:hms}}':fontsize={size}:fontcolor=white:box=1:boxcolor=0x3050a0"
    clock += ":x=w-tw-30:y=20"
    cursor = f"drawbox=x='40+mod(t*{w // 4}\\,{w - 80})':y={h - 3 * size}:w=12:h={size}:color=black:t=fill"
    return f"color=c=0xf4f1ea:s={w}x{h}:r={fps}:d={seconds}," + ",".join([*draws, clock, cursor])


def animation(w: int, h: int, seconds: float, fps: int) -> str:
    """Flat test graphics (ffmpeg's testsrc2): few colours, sharp edges, small moving parts."""
    return f"testsrc2=s={w}x{h}:r={fps}:d={seconds},format=yuv420p"


def generative(w: int, h: int, seconds: float, fps: int) -> str:
    """A Mandelbrot zoom: fine detail everywhere, and every pixel changes every frame."""
    return (
        f"mandelbrot=s={w}x{h}:r={fps}:maxiter=300:end_pts={seconds * 40:g}:end_scale=0.0001,"
        f"trim=duration={seconds:g},format=yuv420p"
    )


def _even(value: int) -> int:
    return value - value % 2
