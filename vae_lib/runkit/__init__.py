"""The run layer: what every command (`train`, `aevb`, `iwae`) shares, written once.

folder   the --out policy: a new folder, --resume, --into-committed; one run per folder (lock)
state    resumable state: generators saved and restored, the "other settings" check, one
         checkpoint reader for runs that continue bit for bit
records  result files: the manifest with its sessions and the machine description

The layers import downwards only: the book's library (`vae_lib.models`, `objectives`, `train`,
...) knows nothing of this package; the experiments (`vae_lib.aevb`, `vae_lib.iwae`) and the
run cache (`vae_lib.runs`) use it; the commands (`vae_lib.commands`) sit on top.
"""
