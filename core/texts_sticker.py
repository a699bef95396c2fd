"""Texts of the crop, square and video-sticker settings (/settings menu labels)."""

from __future__ import annotations

from core.texts import EN, ZH

TEXTS: dict[str, dict[str, str]] = {
    EN: {
        "set_crop": "No black bars",
        "set_square": "Square",
        "opt_crop_0": "off",
        "opt_crop_1": "on",
        "opt_square_0": "off",
        "opt_square_1": "on",
        "opt_output_sticker": "sticker",
    },
    ZH: {
        "set_crop": "去除黑邊",
        "set_square": "正方形",
        "opt_crop_0": "關",
        "opt_crop_1": "開",
        "opt_square_0": "關",
        "opt_square_1": "開",
        "opt_output_sticker": "貼圖",
    },
}
