"""What every long run needs, whatever it computes: atomic writes, resumable checkpoints, torchrun sharding,
sound speed-ups on a device, and the environment a result records. Below the benchmark core, above model_zoo and attacks."""
