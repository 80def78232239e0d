//! The repository outlives the process serving it.

use scan2dms_dms::DmsTarget;
use scan2dms_dms_sim::{SimOptions, dump};

use crate::{client, content_file, document, folder, start};

#[test]
fn a_restart_on_the_same_data_dir_keeps_objects_and_continues_the_ids() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("dms");
    let (path, sha256, length) = content_file(dir.path(), "a.pdf", 4, 20_000);

    let sim = start(SimOptions::new(&data_dir));
    let first_client = client(&sim);
    let folder_id = first_client.create_folder(&folder("R-1")).unwrap();
    let document_id = first_client.insert_document(&folder_id, &document("D-1"), &path).unwrap();
    let before = dump(&data_dir).unwrap();
    sim.shutdown().unwrap();

    let sim = start(SimOptions::new(&data_dir));
    let client = client(&sim);
    assert_eq!(client.find_folder(&folder("R-1")).unwrap(), [folder_id]);
    assert_eq!(client.find_document("D-1").unwrap(), vec![document_id.clone()]);
    let digest = client.fetch_content(&document_id).unwrap();
    assert_eq!((digest.sha256, digest.length), (sha256, length));
    assert_eq!(dump(&data_dir).unwrap(), before);

    let next = client.create_folder(&folder("R-2")).unwrap();
    assert_eq!(next.as_str(), "3");
}
