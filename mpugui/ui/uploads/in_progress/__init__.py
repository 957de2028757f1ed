"""The In-progress uploads tab's pieces (the tab itself is
ui/uploads/in_progress_tab.py, where the window finds it): where to look,
the actions, the uploads table, the parts pane, the totals, the abort flow,
the tie to the app's own transfers, and the tab's dialogs (dialogs/)."""
