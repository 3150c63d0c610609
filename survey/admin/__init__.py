"""Administration: the tree, kiosks, invitations, users, questionnaire versions, imports; audited."""
