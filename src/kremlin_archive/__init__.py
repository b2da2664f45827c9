"""kremlin-archive: a versioned archive of the event pages of the website of the President
of Russia (en.kremlin.ru and kremlin.ru)."""

__version__ = "0.1.0"
