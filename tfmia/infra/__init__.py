"""Infrastructure every stage uses: folders that may be URLs (`fs`), JSON and
npz (`io`), the store of resumable, atomic units of work (`store`), where
units run (`executors`), and input checks (`validation`)."""
