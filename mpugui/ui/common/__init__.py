"""Pieces every ui room shares and that import no room: icons, the message
bridge, settings (QSettings), the table model base, fitting to the screen,
the fitting toolbar and the account chooser."""
