//! Inspection photos: what an upload is (JPEG or PNG) is read from its bytes, never from the
//! header it came with; the image is kept as it is but for its metadata, which is taken out
//! (EXIF with its GPS position, XMP, IPTC, comments, PNG text and time chunks), so a photo
//! never tells where or by what device it was taken. Also a small PNG writer, for the photos
//! the demo draws.

/// The image types an inspection photo may be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Jpeg,
    Png,
}

impl Kind {
    pub fn content_type(self) -> &'static str {
        match self {
            Kind::Jpeg => "image/jpeg",
            Kind::Png => "image/png",
        }
    }

    pub fn parse(content_type: &str) -> Option<Self> {
        match content_type {
            "image/jpeg" => Some(Kind::Jpeg),
            "image/png" => Some(Kind::Png),
            _ => None,
        }
    }

    /// What the bytes say they are, from their signature alone.
    pub fn sniff(bytes: &[u8]) -> Option<Self> {
        if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(Kind::Jpeg)
        } else if bytes.starts_with(PNG_SIGNATURE) {
            Some(Kind::Png)
        } else {
            None
        }
    }
}

/// An image with its metadata taken out.
#[derive(Debug, PartialEq, Eq)]
pub struct Cleaned {
    pub kind: Kind,
    pub width: u32,
    pub height: u32,
    pub bytes: Vec<u8>,
}

/// Why an upload is not a photo we keep.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// Neither a JPEG nor a PNG.
    NotAnImage,
    /// It starts like one but is broken.
    Malformed(&'static str),
}

/// Reads the image, checks its structure and returns it without metadata.
pub fn clean(bytes: &[u8]) -> Result<Cleaned, Refused> {
    match Kind::sniff(bytes) {
        Some(Kind::Jpeg) => clean_jpeg(bytes),
        Some(Kind::Png) => clean_png(bytes),
        None => Err(Refused::NotAnImage),
    }
}

// ---------------------------------------------------------------------------------------------
// JPEG: a sequence of marker segments; the scans' entropy-coded data runs to the next marker.

/// APPn segments kept, by the signature they start with: JFIF (APP0), the ICC colour profile
/// (APP2) and Adobe's colour transform (APP14). Every other APPn (EXIF and XMP in APP1,
/// IPTC in APP13, makers' own) and every comment is dropped.
fn keep_app(marker: u8, data: &[u8]) -> bool {
    match marker {
        0xE0 => data.starts_with(b"JFIF\0"),
        0xE2 => data.starts_with(b"ICC_PROFILE\0"),
        0xEE => data.starts_with(b"Adobe"),
        _ => false,
    }
}

fn clean_jpeg(bytes: &[u8]) -> Result<Cleaned, Refused> {
    let mut out = Vec::with_capacity(bytes.len());
    out.extend_from_slice(&[0xFF, 0xD8]);
    let mut at = 2;
    let mut size = None;
    let mut scanned = false;
    loop {
        // A marker: 0xFF (fill bytes allowed), then its code.
        if bytes.get(at) != Some(&0xFF) {
            return Err(Refused::Malformed(
                "a JPEG segment does not start with a marker",
            ));
        }
        while bytes.get(at) == Some(&0xFF) {
            at += 1;
        }
        let marker = *bytes
            .get(at)
            .ok_or(Refused::Malformed("the JPEG ends early"))?;
        at += 1;
        match marker {
            0xD9 => {
                out.extend_from_slice(&[0xFF, 0xD9]);
                break;
            }
            0x01 | 0xD0..=0xD7 => {
                out.extend_from_slice(&[0xFF, marker]);
                continue;
            }
            0x00 | 0xD8 => return Err(Refused::Malformed("a JPEG marker is out of place")),
            _ => {}
        }
        let length = bytes
            .get(at..at + 2)
            .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
            .ok_or(Refused::Malformed("the JPEG ends early"))?;
        let end = at + length;
        if length < 2 || end > bytes.len() {
            return Err(Refused::Malformed("a JPEG segment runs past the end"));
        }
        let data = &bytes[at + 2..end];
        let is_app = (0xE0..=0xEF).contains(&marker);
        let dropped = marker == 0xFE || (is_app && !keep_app(marker, data));
        if !dropped {
            out.extend_from_slice(&[0xFF, marker]);
            out.extend_from_slice(&bytes[at..end]);
        }
        // Start of frame (not DHT C4, JPG C8 or DAC CC): precision, height, width.
        if matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC) {
            if data.len() < 5 {
                return Err(Refused::Malformed("the JPEG frame header is short"));
            }
            let height = u32::from(u16::from_be_bytes([data[1], data[2]]));
            let width = u32::from(u16::from_be_bytes([data[3], data[4]]));
            size = Some((width, height));
        }
        at = end;
        if marker == 0xDA {
            scanned = true;
            // Entropy-coded data: up to a 0xFF that is neither stuffing (FF 00) nor a restart.
            let start = at;
            loop {
                match bytes.get(at..at + 2) {
                    None => return Err(Refused::Malformed("the JPEG has no end marker")),
                    Some([0xFF, next]) if *next != 0x00 && !(0xD0..=0xD7).contains(next) => break,
                    Some(_) => at += 1,
                }
            }
            out.extend_from_slice(&bytes[start..at]);
        }
    }
    let (width, height) = size.ok_or(Refused::Malformed("the JPEG has no frame header"))?;
    if !scanned || width == 0 || height == 0 {
        return Err(Refused::Malformed("the JPEG has no image data"));
    }
    Ok(Cleaned {
        kind: Kind::Jpeg,
        width,
        height,
        bytes: out,
    })
}

// ---------------------------------------------------------------------------------------------
// PNG: a signature, then chunks (length, type, data, CRC); IHDR first, IEND last.

const PNG_SIGNATURE: &[u8] = &[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];

/// Chunks kept: the critical ones and those that only say how to show the colours. Text
/// (tEXt, zTXt, iTXt), EXIF (eXIf), the time (tIME) and every unknown ancillary chunk go.
const KEPT_CHUNKS: &[&[u8; 4]] = &[
    b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"iCCP", b"sBIT",
    b"pHYs", b"bKGD",
];

fn clean_png(bytes: &[u8]) -> Result<Cleaned, Refused> {
    let mut out = PNG_SIGNATURE.to_vec();
    let mut at = PNG_SIGNATURE.len();
    let mut size = None;
    let mut has_data = false;
    loop {
        let head = bytes
            .get(at..at + 8)
            .ok_or(Refused::Malformed("the PNG ends before its IEND chunk"))?;
        let length = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let kind: [u8; 4] = [head[4], head[5], head[6], head[7]];
        let end = at
            .checked_add(12)
            .and_then(|n| n.checked_add(length))
            .filter(|end| *end <= bytes.len())
            .ok_or(Refused::Malformed("a PNG chunk runs past the end"))?;
        let data = &bytes[at + 8..at + 8 + length];
        let stored = &bytes[at + 8 + length..end];
        if crc32(&bytes[at + 4..at + 8 + length]).to_be_bytes() != stored {
            return Err(Refused::Malformed("a PNG chunk's checksum is wrong"));
        }
        if size.is_none() && &kind != b"IHDR" {
            return Err(Refused::Malformed("the PNG does not start with IHDR"));
        }
        match &kind {
            b"IHDR" => {
                if length != 13 || size.is_some() {
                    return Err(Refused::Malformed("the PNG header is wrong"));
                }
                let width = u32::from_be_bytes([data[0], data[1], data[2], data[3]]);
                let height = u32::from_be_bytes([data[4], data[5], data[6], data[7]]);
                if width == 0 || height == 0 {
                    return Err(Refused::Malformed("the PNG has no pixels"));
                }
                size = Some((width, height));
            }
            b"IDAT" => has_data = true,
            _ => {}
        }
        let critical = kind[0].is_ascii_uppercase();
        if KEPT_CHUNKS.contains(&&kind) {
            out.extend_from_slice(&bytes[at..end]);
        } else if critical {
            return Err(Refused::Malformed("the PNG has a chunk no viewer knows"));
        }
        at = end;
        if &kind == b"IEND" {
            break;
        }
    }
    let (width, height) = size.ok_or(Refused::Malformed("the PNG has no header"))?;
    if !has_data {
        return Err(Refused::Malformed("the PNG has no image data"));
    }
    Ok(Cleaned {
        kind: Kind::Png,
        width,
        height,
        bytes: out,
    })
}

/// CRC-32 (IEEE), as PNG chunks carry it.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

/// One PNG chunk: length, type, data and checksum.
pub fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut chunk = Vec::with_capacity(data.len() + 12);
    chunk.extend_from_slice(&(data.len() as u32).to_be_bytes());
    chunk.extend_from_slice(kind);
    chunk.extend_from_slice(data);
    chunk.extend_from_slice(&crc32(&chunk[4..]).to_be_bytes());
    chunk
}

/// A PNG of `width × height` RGB pixels (`rgb` holds 3 bytes a pixel, row by row), in
/// uncompressed deflate blocks: for pictures drawn by the program, where size does not matter.
pub fn png_rgb(width: u32, height: u32, rgb: &[u8]) -> Vec<u8> {
    let row = width as usize * 3;
    let mut raw = Vec::with_capacity((row + 1) * height as usize);
    for line in rgb.chunks(row).take(height as usize) {
        raw.push(0); // filter: none
        raw.extend_from_slice(line);
    }
    // zlib: header, stored blocks of at most 65,535 bytes, Adler-32 of the raw data.
    let mut zlib = vec![0x78, 0x01];
    let blocks: Vec<&[u8]> = raw.chunks(65_535).collect();
    for (i, block) in blocks.iter().enumerate() {
        zlib.push(u8::from(i + 1 == blocks.len()));
        let len = block.len() as u16;
        zlib.extend_from_slice(&len.to_le_bytes());
        zlib.extend_from_slice(&(!len).to_le_bytes());
        zlib.extend_from_slice(block);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in &raw {
        a = (a + u32::from(byte)) % 65_521;
        b = (b + a) % 65_521;
    }
    zlib.extend_from_slice(&((b << 16) | a).to_be_bytes());
    let mut header = Vec::with_capacity(13);
    header.extend_from_slice(&width.to_be_bytes());
    header.extend_from_slice(&height.to_be_bytes());
    header.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB, deflate, no filter method, no interlace
    let mut png = PNG_SIGNATURE.to_vec();
    png.extend(png_chunk(b"IHDR", &header));
    png.extend(png_chunk(b"IDAT", &zlib));
    png.extend(png_chunk(b"IEND", &[]));
    png
}

#[cfg(test)]
mod tests {
    use super::*;

    fn picture() -> Vec<u8> {
        let rgb: Vec<u8> = (0..4 * 3 * 3).map(|i| (i * 7) as u8).collect();
        png_rgb(4, 3, &rgb)
    }

    /// A minimal baseline JPEG's structure with an EXIF segment holding a GPS tag and a comment.
    fn jpeg_with_exif() -> Vec<u8> {
        let mut j = vec![0xFF, 0xD8];
        let segment = |marker: u8, data: &[u8]| {
            let mut s = vec![0xFF, marker];
            s.extend_from_slice(&((data.len() + 2) as u16).to_be_bytes());
            s.extend_from_slice(data);
            s
        };
        j.extend(segment(0xE0, b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0"));
        j.extend(segment(0xE1, b"Exif\0\0MM\0*GPSLatitude 37.46N"));
        j.extend(segment(0xFE, b"shot at Yantai cold store 2"));
        j.extend(segment(0xDB, &[0; 65]));
        j.extend(segment(0xC0, &[8, 0, 3, 0, 4, 1, 1, 0x11, 0]));
        j.extend(segment(0xDA, &[1, 1, 0, 0, 63, 0]));
        j.extend_from_slice(&[0x12, 0xFF, 0x00, 0x34, 0xFF, 0xD0, 0x56]);
        j.extend_from_slice(&[0xFF, 0xD9]);
        j.extend_from_slice(b"trailing bytes after the image");
        j
    }

    #[test]
    fn a_png_is_read_and_kept_whole_when_it_has_no_metadata() {
        let png = picture();
        let cleaned = clean(&png).unwrap();
        assert_eq!(
            (cleaned.kind, cleaned.width, cleaned.height),
            (Kind::Png, 4, 3)
        );
        assert_eq!(cleaned.bytes, png);
    }

    #[test]
    fn png_text_and_exif_chunks_are_taken_out() {
        let png = picture();
        let iend = png.len() - 12;
        let mut tagged = png[..iend].to_vec();
        tagged.extend(png_chunk(b"tEXt", b"Location\0Yantai 37.46N 121.44E"));
        tagged.extend(png_chunk(b"eXIf", b"MM\0*GPS"));
        tagged.extend(png_chunk(b"tIME", &[7, 234, 11, 30, 12, 0, 0]));
        tagged.extend_from_slice(&png[iend..]);
        let cleaned = clean(&tagged).unwrap();
        assert_eq!(cleaned.bytes, png);
        let text = String::from_utf8_lossy(&cleaned.bytes);
        assert!(!text.contains("Yantai") && !text.contains("GPS"));
    }

    #[test]
    fn a_broken_png_is_refused() {
        let mut png = picture();
        let last = png.len() - 1;
        png[last] ^= 1;
        assert!(matches!(clean(&png), Err(Refused::Malformed(_))));
        let png = picture();
        assert!(matches!(
            clean(&png[..png.len() - 12]),
            Err(Refused::Malformed(_))
        ));
    }

    #[test]
    fn jpeg_exif_comments_and_trailing_bytes_are_taken_out() {
        let jpeg = jpeg_with_exif();
        let cleaned = clean(&jpeg).unwrap();
        assert_eq!(
            (cleaned.kind, cleaned.width, cleaned.height),
            (Kind::Jpeg, 4, 3)
        );
        let text = String::from_utf8_lossy(&cleaned.bytes);
        assert!(!text.contains("GPS") && !text.contains("Yantai") && !text.contains("trailing"));
        assert!(text.contains("JFIF"));
        // Scan data with stuffing and a restart marker is carried over unchanged.
        assert!(
            cleaned
                .bytes
                .windows(7)
                .any(|w| w == [0x12, 0xFF, 0x00, 0x34, 0xFF, 0xD0, 0x56])
        );
        assert!(cleaned.bytes.ends_with(&[0xFF, 0xD9]));
        // Cleaning what is clean changes nothing.
        assert_eq!(clean(&cleaned.bytes).unwrap().bytes, cleaned.bytes);
    }

    #[test]
    fn other_files_are_not_images_and_a_cut_jpeg_is_malformed() {
        assert_eq!(clean(b"GIF89a...."), Err(Refused::NotAnImage));
        assert_eq!(
            clean(b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>"),
            Err(Refused::NotAnImage)
        );
        assert_eq!(clean(&[]), Err(Refused::NotAnImage));
        let jpeg = jpeg_with_exif();
        assert!(matches!(clean(&jpeg[..40]), Err(Refused::Malformed(_))));
    }

    #[test]
    fn the_crc_is_the_standard_one() {
        assert_eq!(crc32(b"IEND"), 0xAE42_6082);
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }
}
