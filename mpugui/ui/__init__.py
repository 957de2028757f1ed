"""The desktop window (PySide6 widgets). Nothing outside mpugui.ui imports
this package; the engine and core stay usable headless."""
