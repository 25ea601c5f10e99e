package bookclub

import "context"

// The chat's service functions and limits, for the tests in package
// bookclub_test: live delivery (the WebSocket handler) calls them, no
// route does.

type ChatMessage = chatMessage

var (
	ChatText     = chatText
	ErrNotMember = errNotMember
)

const (
	MaxRoomsPerUser = maxRoomsPerUser
	MaxRoomMembers  = maxRoomMembers
	MaxChatChars    = maxChatChars
)

func (s *Service) PostChatMessage(ctx context.Context, roomID int64, userID, text string) (ChatMessage, error) {
	return s.postChatMessage(ctx, roomID, userID, text)
}

func (s *Service) IsRoomMember(ctx context.Context, roomID int64, userID string) (bool, error) {
	return s.isRoomMember(ctx, roomID, userID)
}
