"""The desktop window (PySide6 widgets), in rooms: the window and its
process (app/), the transfer queue (queue/), a transfer's parts (parts/),
the Accounts dialog (accounts/), where files go (destination/), the two
in-progress uploads tabs and prices (uploads/), and pieces they all share
(common/). app/ is on top: no other room imports it; common/ imports no room.
Nothing outside mpugui.ui imports this package."""
