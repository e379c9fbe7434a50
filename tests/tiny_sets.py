"""Tiny paired test sets shared by test folders: blur/sharp crops of a photograph, written as a folder set."""
import os

import cv2
import numpy as np
from skimage import data as skdata

KEYS = ('000', '001', '002')


def make_pairs(n=3, h=40, w=52):
    """Sharp crops of a photograph and their horizontally box-blurred versions (RGB uint8)."""
    photo = skdata.astronaut()[::4, ::4]
    pairs = []
    for i in range(n):
        sharp = np.ascontiguousarray(photo[10 * i:10 * i + h, 20 + 7 * i:20 + 7 * i + w])
        pairs.append((cv2.blur(sharp, (7, 1)), sharp))
    return pairs


def write_folder_set(root, pairs, blur_dir='input', sharp_dir='target'):
    for sub in (blur_dir, sharp_dir):
        os.makedirs(os.path.join(root, sub), exist_ok=True)
    for key, (blur, sharp) in zip(KEYS, pairs):
        cv2.imwrite(os.path.join(root, blur_dir, f'{key}.png'), cv2.cvtColor(blur, cv2.COLOR_RGB2BGR))
        cv2.imwrite(os.path.join(root, sharp_dir, f'{key}.png'), cv2.cvtColor(sharp, cv2.COLOR_RGB2BGR))
    return str(root)
