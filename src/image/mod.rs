//! Image handling with BasicSR conventions.
//!
//! - `Image` (at the crate root): planar (CHW) `f32` image with values in `[0, 1]`, the crate's pixel currency.
//! - `io`: decoding (PNG, BMP, JPEG, TIFF) with typed errors and a pixel limit; PNG encoding.
//! - `resize`: MATLAB-style bicubic resize with antialiasing (BasicSR `imresize`), `mod_crop`.
//! - `color`: BasicSR's RGB -> Y (YCbCr, ITU-R BT.601).
//! - `patch`: BasicSR's sub-image grid (`extract_subimages.py`) and HR -> LR patch pairs.
//! - `pair`: `SrPair` (at the crate root), one LR/HR training pair.
//! - `sheet`: a canvas with an 8x8 bitmap font, for contact sheets.
//! - `photos`: four small public-domain / CC0 photographs compiled in (the default input).

// The sub-modules are private: every item has one public path, `burn_idc::image::X`, except
// `Image`, `SrPair`, `write_photos` and `write_synthetic_images`, which live at the crate root.
pub(crate) mod color;
#[cfg(test)]
pub(crate) mod fixtures;
pub(crate) mod io;
pub(crate) mod pair;
pub(crate) mod patch;
pub(crate) mod photos;
pub(crate) mod planar;
pub(crate) mod resize;
pub(crate) mod sheet;
pub(crate) mod synthetic;

pub(crate) use pair::SrPair;
pub(crate) use planar::Image;

pub use color::{Y_WEIGHTS, rgb_to_y, y_of};
pub use io::{
    DEFAULT_MAX_PIXELS, IMAGE_EXTENSIONS, Rgb8Image, decode_image, decode_image_with_limit,
    decode_rgb8, decode_rgb8_bytes, decode_rgb8_with_limit, encode_png, has_image_extension,
    image_to_u8, list_images, max_file_bytes, quantize_image, quantize_u8, save_png,
};
pub use patch::{
    PairMaker, axis_positions, count_patches, grid_positions, instance_pairs, noisy_input,
};
pub use photos::PHOTOS;
pub use planar::{batch_to_images, images_to_batch};
pub use resize::{
    AxisWeights, axis_weights, imresize, mod_crop, output_len, resize_with, try_mod_crop,
};
pub use sheet::{Canvas, text_height};
pub use synthetic::synthetic_image;
