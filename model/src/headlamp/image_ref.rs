//! Container image references: repository (with registry), tag and digest.

/// An image reference split into repository (with registry), tag and digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

pub fn parse_image(image: &str) -> ImageRef {
    let (rest, digest) = match image.split_once('@') {
        Some((r, d)) => (r, Some(d.to_string())),
        None => (image, None),
    };
    let slash = rest.rfind('/').map(|i| i + 1).unwrap_or(0);
    match rest[slash..].rfind(':') {
        Some(i) => ImageRef {
            repository: rest[..slash + i].to_string(),
            tag: Some(rest[slash + i + 1..].to_string()),
            digest,
        },
        None => ImageRef {
            repository: rest.to_string(),
            tag: None,
            digest,
        },
    }
}

/// Is this the Headlamp server image (`…/headlamp-k8s/headlamp`, `…/headlamp`)?
pub fn is_headlamp_image(image: &ImageRef) -> bool {
    image.repository.rsplit('/').next() == Some("headlamp")
}
