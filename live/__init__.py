"""Phosphene's engine: audio in, pictures out, on a live (wall) clock or an offline (virtual) one."""
