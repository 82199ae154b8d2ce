use super::*;

async fn ledger(dir: &Path) -> MetadataStore {
    let url = format!("sqlite://{}", dir.join("metadata.db").display());
    MetadataStore::open(&url).await.unwrap()
}

#[tokio::test]
async fn identical_bytes_are_stored_once() {
    let dir = std::env::temp_dir().join(format!("gd-blobs-{}", uuid::Uuid::new_v4()));
    let store = BlobStore::local(&dir.join("data"), 0).unwrap();
    let meta = ledger(&dir).await;
    let chunks =
        || futures::stream::iter([Ok::<_, std::io::Error>(Bytes::from_static(b"same bytes"))]);
    let mut stored = vec![];
    for _ in 0..2 {
        let staged = store.stage_stream(chunks(), 100).await.unwrap();
        let mut tx = meta.write().await.unwrap();
        store.place(&staged, &mut tx).await.unwrap();
        tx.commit().await.unwrap();
        stored.push(staged.blob.clone());
        store.discard(&staged).await;
    }
    assert_eq!(stored[0], stored[1]);
    assert_eq!(
        stored[0].object, None,
        "the local disk addresses blobs by hash"
    );
    let files: Vec<_> = walk(&dir.join("data/blobs"));
    assert_eq!(files.len(), 1);
    assert!(
        walk(&dir.join("data/tmp")).is_empty(),
        "no temporary file is left behind"
    );
    let unplaced = store.stage_stream(chunks(), 100).await.unwrap();
    store.discard(&unplaced).await;
    assert!(
        walk(&dir.join("data/tmp")).is_empty(),
        "discarded content is gone"
    );
    let too_big = store.stage_stream(chunks(), 5).await;
    assert!(matches!(too_big, Err(StorageError::TooLarge(5))));
    assert!(walk(&dir.join("data/tmp")).is_empty());
    meta.close().await;
    std::fs::remove_dir_all(dir).unwrap();
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return vec![];
    };
    entries
        .flatten()
        .flat_map(|e| {
            if e.path().is_dir() {
                walk(&e.path())
            } else {
                vec![e.path()]
            }
        })
        .collect()
}
