/**
 * `matrix.take`: a POST /matrix/register body, password included, kept in the memory of the edge that received it
 * and handed over (then forgotten there) to the edge the socket landed on.
 */
export interface MatrixRegistration {
  homeserver: string;
  room_id: string;
  user: string;
  password: string;
  device_id: string;
}
export interface MatrixTakeRequest { id: string }
