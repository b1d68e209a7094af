//! The in-memory volume behaves as the disk does for every call the broker makes.

use std::io::{Read, Seek, SeekFrom, Write};

use super::*;

/// The same script on a directory on disk and on a memory volume.
fn both(script: impl Fn(&Path)) {
    let disk = tempfile::tempdir().unwrap();
    script(disk.path());
    let memory = MemoryVolume::new();
    script(memory.root());
}

#[test]
fn files_directories_renames_and_removals_behave_alike() {
    both(|root| {
        let d = root.join("t-0");
        create_dir_all(d.join("a/b")).unwrap();
        assert!(is_dir(&d) && is_dir(d.join("a/b")));
        write(d.join("x.log"), b"hello").unwrap();
        assert_eq!(read(d.join("x.log")).unwrap(), b"hello");
        assert_eq!(metadata(d.join("x.log")).unwrap().len(), 5);
        // create + truncate, append, and independent offsets per open.
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(d.join("x.log"))
            .unwrap();
        f.write_all(b" world").unwrap();
        let mut g = open(d.join("x.log")).unwrap();
        let mut s = String::new();
        g.read_to_string(&mut s).unwrap();
        assert_eq!(s, "hello world");
        g.seek(SeekFrom::Start(6)).unwrap();
        let mut t = String::new();
        open(d.join("x.log"))
            .unwrap()
            .read_to_string(&mut t)
            .unwrap();
        assert_eq!(t, "hello world");
        // Renaming over a file replaces it; the old name is gone.
        write(d.join("y.tmp"), b"new").unwrap();
        rename(d.join("y.tmp"), d.join("x.log")).unwrap();
        assert_eq!(read(d.join("x.log")).unwrap(), b"new");
        assert!(!exists(d.join("y.tmp")));
        // An open file outlives its name, as after an unlink.
        let mut kept = open(d.join("x.log")).unwrap();
        remove_file(d.join("x.log")).unwrap();
        let mut s = String::new();
        kept.read_to_string(&mut s).unwrap();
        assert_eq!(s, "new");
        assert_eq!(
            read(d.join("x.log")).unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
        assert_eq!(
            OpenOptions::new()
                .read(true)
                .open(d.join("nope/z"))
                .unwrap_err()
                .kind(),
            io::ErrorKind::NotFound
        );
        // Listing, then moving a whole directory.
        write(d.join("a/one"), b"1").unwrap();
        let mut names: Vec<_> = read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["a"]);
        rename(&d, root.join("t-0.deleted")).unwrap();
        assert!(!exists(&d));
        assert_eq!(read(root.join("t-0.deleted/a/one")).unwrap(), b"1");
        remove_dir_all(root.join("t-0.deleted")).unwrap();
        assert!(!exists(root.join("t-0.deleted")));
        sync_dir(root).unwrap();
    });
}

#[test]
fn a_memory_file_maps_and_grows_like_a_disk_file() {
    both(|root| {
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .open(root.join("m"))
            .unwrap();
        f.set_len(4096).unwrap();
        let mut map = unsafe { memmap2::MmapOptions::new().len(4096).map_mut(&f).unwrap() };
        map[..3].copy_from_slice(b"abc");
        map.flush().unwrap();
        assert_eq!(&read(root.join("m")).unwrap()[..3], b"abc");
        assert_eq!(metadata(root.join("m")).unwrap().len(), 4096);
    });
}

#[test]
fn a_dropped_volume_never_reaches_the_disk() {
    let v = MemoryVolume::new();
    let root = v.root().to_path_buf();
    write(root.join("f"), b"x").unwrap();
    assert!(is_in_memory(&root));
    drop(v);
    assert_eq!(
        read(root.join("f")).unwrap_err().kind(),
        io::ErrorKind::NotFound
    );
    assert!(write(root.join("f"), b"x").is_err());
    assert!(create_dir_all(root.join("d")).is_err());
    // And a disk path is not taken for a volume.
    assert!(!is_in_memory(Path::new("memory-1/x")));
}

#[test]
fn remove_dir_removes_only_an_empty_directory() {
    both(|root| {
        let d = root.join("t-0");
        create_dir_all(&d).unwrap();
        write(d.join("x.log"), b"x").unwrap();
        let full = remove_dir(&d).unwrap_err();
        assert_eq!(full.kind(), io::ErrorKind::DirectoryNotEmpty, "{full}");
        assert!(
            remove_dir(d.join("x.log")).is_err(),
            "a file is not a directory"
        );
        remove_file(d.join("x.log")).unwrap();
        remove_dir(&d).unwrap();
        assert!(!exists(&d));
        assert_eq!(remove_dir(&d).unwrap_err().kind(), io::ErrorKind::NotFound);
    });
}
