//! The sRGB ICC profile of the PDF/A OutputIntent, built in code.
//!
//! Key decision: the profile is generated, not shipped. It is a plain ICC
//! v2.1 matrix/TRC display profile (`mntr`, RGB to XYZ) from the published
//! IEC 61966-2-1 numbers: D50-adapted primaries, the sRGB tone curve sampled
//! at 1024 points, D65 media white. About 2.6 KB, no licence question, and no
//! system package that CI machines would have to install.
//!
//! What it does not do: it is not byte-identical to any vendor's sRGB
//! profile, carries no `chad` tag or profile ID (both v4 or later) and is
//! only meant as the output intent of e-files whose images are gray or RGB.

/// The identifier written as the OutputIntent's `/OutputConditionIdentifier`.
pub(crate) const OUTPUT_CONDITION: &str = "sRGB IEC61966-2.1";

/// Builds the profile.
pub(crate) fn srgb_profile() -> Vec<u8> {
    let description = tag_description("sRGB IEC61966-2.1 (scan2dms)");
    let copyright = tag_text("No copyright, use freely");
    // Media white D65; colorants are the sRGB primaries adapted to D50 (Bradford).
    let white_point = tag_xyz([0.9505, 1.0, 1.0891]);
    let red = tag_xyz([0.4360747, 0.2225045, 0.0139322]);
    let green = tag_xyz([0.3850649, 0.7168786, 0.0971045]);
    let blue = tag_xyz([0.1430804, 0.0606169, 0.7141733]);
    let curve = tag_srgb_curve(1024);

    // (signature, data index); the three TRC tags share one curve.
    let elements: [&Vec<u8>; 7] = [&description, &copyright, &white_point, &red, &green, &blue, &curve];
    let tags: [(&[u8; 4], usize); 9] = [
        (b"desc", 0),
        (b"cprt", 1),
        (b"wtpt", 2),
        (b"rXYZ", 3),
        (b"gXYZ", 4),
        (b"bXYZ", 5),
        (b"rTRC", 6),
        (b"gTRC", 6),
        (b"bTRC", 6),
    ];

    let table_len = 4 + 12 * tags.len();
    let mut offsets = Vec::with_capacity(elements.len());
    let mut data = Vec::new();
    let mut position = 128 + table_len;
    for element in elements {
        offsets.push(position);
        data.extend_from_slice(element);
        while data.len() % 4 != 0 {
            data.push(0);
        }
        position = 128 + table_len + data.len();
    }
    let total = 128 + table_len + data.len();

    let mut profile = Vec::with_capacity(total);
    profile.extend_from_slice(&u32_be(total));
    profile.extend_from_slice(&[0; 4]); // preferred CMM: none
    profile.extend_from_slice(&[0x02, 0x10, 0x00, 0x00]); // version 2.1.0
    profile.extend_from_slice(b"mntr");
    profile.extend_from_slice(b"RGB ");
    profile.extend_from_slice(b"XYZ ");
    // Creation date 2026-01-01 00:00:00, fixed so the output is deterministic.
    for value in [2026u16, 1, 1, 0, 0, 0] {
        profile.extend_from_slice(&value.to_be_bytes());
    }
    profile.extend_from_slice(b"acsp");
    profile.extend_from_slice(&[0; 4]); // primary platform: none
    profile.extend_from_slice(&[0; 4]); // flags
    profile.extend_from_slice(&[0; 4]); // device manufacturer
    profile.extend_from_slice(&[0; 4]); // device model
    profile.extend_from_slice(&[0; 8]); // device attributes
    profile.extend_from_slice(&[0; 4]); // rendering intent: perceptual
    for value in [0.9642, 1.0, 0.8249] {
        profile.extend_from_slice(&s15_fixed16(value)); // PCS illuminant D50
    }
    profile.extend_from_slice(&[0; 4]); // creator
    profile.resize(128, 0); // profile ID (v4 only) and reserved bytes
    profile.extend_from_slice(&u32_be(tags.len()));
    for (signature, index) in tags {
        profile.extend_from_slice(signature);
        profile.extend_from_slice(&u32_be(offsets[index]));
        profile.extend_from_slice(&u32_be(elements[index].len()));
    }
    profile.extend_from_slice(&data);
    debug_assert_eq!(profile.len(), total);
    profile
}

fn tag_description(text: &str) -> Vec<u8> {
    let mut tag = Vec::new();
    tag.extend_from_slice(b"desc");
    tag.extend_from_slice(&[0; 4]);
    tag.extend_from_slice(&u32_be(text.len() + 1));
    tag.extend_from_slice(text.as_bytes());
    tag.push(0);
    tag.extend_from_slice(&[0; 4]); // Unicode language code
    tag.extend_from_slice(&[0; 4]); // Unicode count: none
    tag.extend_from_slice(&[0; 2]); // ScriptCode code
    tag.push(0); // ScriptCode count
    tag.extend_from_slice(&[0; 67]); // ScriptCode description
    tag
}

fn tag_text(text: &str) -> Vec<u8> {
    let mut tag = Vec::new();
    tag.extend_from_slice(b"text");
    tag.extend_from_slice(&[0; 4]);
    tag.extend_from_slice(text.as_bytes());
    tag.push(0);
    tag
}

fn tag_xyz(xyz: [f64; 3]) -> Vec<u8> {
    let mut tag = Vec::new();
    tag.extend_from_slice(b"XYZ ");
    tag.extend_from_slice(&[0; 4]);
    for value in xyz {
        tag.extend_from_slice(&s15_fixed16(value));
    }
    tag
}

fn tag_srgb_curve(points: usize) -> Vec<u8> {
    let mut tag = Vec::new();
    tag.extend_from_slice(b"curv");
    tag.extend_from_slice(&[0; 4]);
    tag.extend_from_slice(&u32_be(points));
    for index in 0..points {
        let encoded = index as f64 / (points - 1) as f64;
        let linear = if encoded <= 0.04045 { encoded / 12.92 } else { ((encoded + 0.055) / 1.055).powf(2.4) };
        let sample = (linear * 65535.0).round().clamp(0.0, 65535.0) as u16;
        tag.extend_from_slice(&sample.to_be_bytes());
    }
    tag
}

fn s15_fixed16(value: f64) -> [u8; 4] {
    ((value * 65536.0).round() as i32).to_be_bytes()
}

fn u32_be(value: usize) -> [u8; 4] {
    u32::try_from(value).unwrap_or(u32::MAX).to_be_bytes()
}
