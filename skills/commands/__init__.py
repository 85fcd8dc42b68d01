"""One module per command (`ack.py` is `ack`), plus what several commands share."""
