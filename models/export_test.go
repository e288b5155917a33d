package models

import "gorm.io/gorm"

// DBForTest exposes the store's handle to the package's external tests.
func DBForTest(s *Store) *gorm.DB { return s.db }
