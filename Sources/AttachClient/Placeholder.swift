// Placeholder: delete once this target has real files.
