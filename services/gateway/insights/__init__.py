"""The insights room: figures that look ahead and across the ledger's read models — the
liability forecast (the "ten year test"), provider concentration, the reform dividend and
places compared."""
