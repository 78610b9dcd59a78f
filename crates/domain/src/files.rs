//! Uploaded files: what they are (judged by content, never by name) and what they are for.

use serde::{Deserialize, Serialize};

/// The file types accepted for documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FileType {
    /// PDF.
    Pdf,
    /// JPEG image.
    Jpeg,
    /// PNG image.
    Png,
    /// A ZIP archive: only the package Madoguchi builds from gathered data (never accepted
    /// from an upload: [`sniff`] does not recognise it).
    Zip,
}

impl FileType {
    /// The MIME type served back.
    pub fn mime(self) -> &'static str {
        match self {
            FileType::Pdf => "application/pdf",
            FileType::Jpeg => "image/jpeg",
            FileType::Png => "image/png",
            FileType::Zip => "application/zip",
        }
    }

    /// The extension a download gets, whatever the uploaded name said.
    pub fn extension(self) -> &'static str {
        match self {
            FileType::Pdf => "pdf",
            FileType::Jpeg => "jpg",
            FileType::Png => "png",
            FileType::Zip => "zip",
        }
    }
}

/// Recognises PDF, JPEG and PNG by their magic bytes; anything else is `None`.
pub fn sniff(bytes: &[u8]) -> Option<FileType> {
    if bytes.starts_with(b"%PDF-") {
        Some(FileType::Pdf)
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(FileType::Jpeg)
    } else if bytes.starts_with(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]) {
        Some(FileType::Png)
    } else {
        None
    }
}

/// Why a file is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentPurpose {
    /// The subject's identity document (本人確認書類).
    Identity,
    /// The agent's own identity document.
    AgentIdentity,
    /// Proof of authority: 委任状, 戸籍謄本, 登記事項証明書, 印鑑登録証明書.
    Authority,
    /// Other evidence the officer asked for.
    Other,
    /// The answer delivered to the subject (disclosure package).
    Package,
}

impl DocumentPurpose {
    /// Every purpose.
    pub const ALL: [DocumentPurpose; 5] = [
        DocumentPurpose::Identity,
        DocumentPurpose::AgentIdentity,
        DocumentPurpose::Authority,
        DocumentPurpose::Other,
        DocumentPurpose::Package,
    ];

    /// Stable identifier.
    pub fn as_str(self) -> &'static str {
        match self {
            DocumentPurpose::Identity => "identity",
            DocumentPurpose::AgentIdentity => "agent_identity",
            DocumentPurpose::Authority => "authority",
            DocumentPurpose::Other => "other",
            DocumentPurpose::Package => "package",
        }
    }

    /// Parses [`DocumentPurpose::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// Japanese label.
    pub fn label_ja(self) -> &'static str {
        match self {
            DocumentPurpose::Identity => "本人確認書類",
            DocumentPurpose::AgentIdentity => "代理人の本人確認書類",
            DocumentPurpose::Authority => "代理権を確認する書類（委任状・戸籍謄本など）",
            DocumentPurpose::Other => "その他の書類",
            DocumentPurpose::Package => "開示等の結果",
        }
    }

    /// English label.
    pub fn label_en(self) -> &'static str {
        match self {
            DocumentPurpose::Identity => "Identity document",
            DocumentPurpose::AgentIdentity => "Agent's identity document",
            DocumentPurpose::Authority => "Proof of authority (power of attorney, family register)",
            DocumentPurpose::Other => "Other document",
            DocumentPurpose::Package => "Result",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn content_decides_not_the_name() {
        assert_eq!(sniff(b"%PDF-1.7\n..."), Some(FileType::Pdf));
        assert_eq!(
            sniff(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10]),
            Some(FileType::Jpeg)
        );
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), Some(FileType::Png));
        assert_eq!(sniff(b"hello, I am text"), None);
        assert_eq!(sniff(b"MZ\x90\0\x03"), None, "a Windows executable");
        assert_eq!(sniff(b"\x7fELF\x02\x01"), None);
        assert_eq!(sniff(b""), None);
        // A ZIP is only ever the package Madoguchi builds itself.
        assert_eq!(sniff(b"PK\x03\x04\x14\0"), None);
    }

    proptest! {
        #[test]
        fn sniffing_never_panics_and_only_accepts_known_headers(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Some(t) = sniff(&bytes) {
                let ok = match t {
                    FileType::Pdf => bytes.starts_with(b"%PDF-"),
                    FileType::Jpeg => bytes.starts_with(&[0xFF, 0xD8, 0xFF]),
                    FileType::Png => bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
                    // Never from an upload.
                    FileType::Zip => false,
                };
                prop_assert!(ok);
            }
        }
    }
}
